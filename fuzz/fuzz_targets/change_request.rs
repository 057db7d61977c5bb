//! A change request body: whatever the bytes, parsing answers, and an accepted request's IDs
//! are each one URL path segment.
#![no_main]

use graphgate::change::ChangeRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(body)) = serde_json::from_slice(data) else {
        return;
    };
    if let Ok(ChangeRequest::One(request)) = ChangeRequest::parse(&body)
        && let Some(device) = request.target.device_id()
    {
        let id: &str = device.as_ref();
        assert!(!id.is_empty() && !id.contains(['/', '\\', '?', '#', '%']));
    }
});
