//! Fuzzes the LL-HLS request parsers: `_HLS_*` query strings and object names.
#![no_main]

use hls::{PlaylistQuery, parse_object_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(query) = PlaylistQuery::parse(&text) {
        // Whatever parses has a canonical form that parses back to the same value.
        assert_eq!(PlaylistQuery::parse(&query.to_string()), Ok(query));
    }
    if let Some(object) = parse_object_name(&text) {
        assert_eq!(parse_object_name(&object.to_string()), Some(object));
    }
});
