//! Graph's Location and nextLink: anything graphgate accepts is on the Graph origin, and a
//! Location names a device operation under the device API's version.
#![no_main]

use graphgate::graph::GraphBase;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let base = GraphBase::parse("https://graph.microsoft.com", None, None).unwrap();
    if let Ok(url) = base.resolve_location(raw) {
        assert_eq!(url.host_str(), Some("graph.microsoft.com"));
        assert_eq!(url.scheme(), "https");
        assert!(url.path().starts_with("/beta/teamwork/devices"), "{url}");
    }
    if let Ok(url) = base.resolve_next_link(raw) {
        assert_eq!(url.host_str(), Some("graph.microsoft.com"));
    }
});
