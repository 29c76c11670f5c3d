//! Decode, write into the batch format, read back: each event comes back
//! as it was decoded, but for strings and label sets past the format's cap
//! (MAX_BYTES), which come back cut, strings between two characters.
#![no_main]

use ctlog_core::wire::{self, BatchWriter, Notices, MAX_BYTES};
use ctlog_core::{decode_message, Event, Messages};
use libfuzzer_sys::fuzz_target;

fn cut(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(|s| String::from_utf8(wire::clamp_str(s).to_vec()).expect("cut between characters"))
}

fuzz_target!(|data: &[u8]| {
    let mut writer = BatchWriter::new();
    let mut want: Vec<(Event, u64)> = Vec::new();
    for (i, msg) in Messages::new(data).flatten().enumerate() {
        let Ok(Some(mut ev)) = decode_message(msg) else {
            continue;
        };
        // A program name from the message's own bytes: any text at all.
        ev.progname = Some(String::from_utf8_lossy(&msg[msg.len() / 2..]).into_owned());
        let time = u64::MAX - i as u64;
        writer.push(&ev, time);
        ev.helper = cut(&ev.helper);
        ev.secctx = cut(&ev.secctx);
        ev.progname = cut(&ev.progname);
        if let Some(l) = &mut ev.labels {
            l.truncate(MAX_BYTES);
        }
        want.push((ev, time));
    }
    let notices = Notices {
        enobufs: data.len() as u32,
        decode_errors: 1,
        lost: u64::MAX,
        undelivered: data.first().copied().unwrap_or(0).into(),
    };
    let got = wire::read_batch(&writer.finish(notices, true, None)).expect("reads back");
    assert!(got.final_batch);
    assert_eq!(got.notices, notices);
    assert_eq!(got.events, want);
});
