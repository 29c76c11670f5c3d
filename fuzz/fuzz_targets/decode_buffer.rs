//! A whole receive buffer, as recv returns it (one or more messages), the
//! way the reader decodes it: every message is an event, not an event, or
//! one decode error, and a bad message does not take its neighbours down.
//! The batch `decode_batch` makes of it reads back with as many events and
//! errors as the messages gave one by one.
#![no_main]

use ctlog_core::{decode_batch, decode_message, wire, Messages};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut events, mut errors, mut framed) = (0u32, 0u32, 0usize);
    for msg in Messages::new(data) {
        match msg {
            Ok(m) => {
                framed += m.len();
                match decode_message(m) {
                    Ok(Some(_)) => events += 1,
                    Ok(None) => {}
                    Err(_) => errors += 1,
                }
            }
            Err(_) => errors += 1,
        }
    }
    assert!(framed <= data.len());
    let batch = wire::read_batch(&decode_batch(data, 7)).expect("a batch decode_batch wrote");
    assert_eq!(batch.events.len(), events as usize);
    assert_eq!(batch.notices.decode_errors, errors);
    assert!(batch.events.iter().all(|&(_, t)| t == 7));
});
