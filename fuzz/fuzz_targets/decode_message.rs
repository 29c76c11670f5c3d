//! One netlink message into the decoder: it is an event, not an event, or
//! an error that names the attribute that failed; never a panic, and an
//! event it yields says what type and family the header gave.
#![no_main]

use ctlog_core::decode_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_message(data) {
        Ok(Some(ev)) => assert_eq!(data.get(16), Some(&ev.family)),
        Ok(None) => {}
        Err(e) => assert!(!e.attr.is_empty() && !e.reason.is_empty()),
    }
});
