use proptest::prelude::*;

use super::*;

fn parse(q: &str) -> Result<PlaylistQuery, &'static str> {
    PlaylistQuery::parse(q).map_err(|e| e.reason())
}

#[test]
fn empty_and_unrelated_queries_are_full_non_blocking() {
    for q in [
        "",
        "?",
        "&&",
        "t=123",
        "?_=1700000000&token=abc",
        "_HLS_future=1",
        "%5FHLS_msn=x",
    ] {
        assert_eq!(parse(q), Ok(PlaylistQuery::default()), "{q}");
    }
}

#[test]
fn directives_parse() {
    assert_eq!(
        parse("?_HLS_msn=1234&_HLS_part=3&_HLS_skip=YES&cb=9"),
        Ok(PlaylistQuery {
            msn: Some(1234),
            part: Some(3),
            skip: SkipRequest::Segments
        })
    );
    assert_eq!(
        parse("_HLS_skip=v2&_HLS_msn=0"),
        Ok(PlaylistQuery {
            msn: Some(0),
            part: None,
            skip: SkipRequest::SegmentsAndDateRanges
        })
    );
    assert_eq!(
        parse("_HLS_msn=18446744073709551615").map(|q| q.msn),
        Ok(Some(u64::MAX))
    );
    assert_eq!(parse("_HLS_msn=007").map(|q| q.msn), Ok(Some(7)));
}

#[test]
fn malformed_directives_are_typed_errors() {
    let cases = [
        ("_HLS_part=1", "part_without_msn"),
        ("_HLS_msn=1&_HLS_msn=2", "duplicate"),
        ("_HLS_msn=1&_HLS_part=1&_HLS_part=1", "duplicate"),
        ("_HLS_skip=YES&_HLS_skip=YES", "duplicate"),
        ("_HLS_msn", "missing_value"),
        ("_HLS_msn=", "missing_value"),
        ("_HLS_skip", "missing_value"),
        ("_HLS_msn=-1", "not_a_number"),
        ("_HLS_msn=+1", "not_a_number"),
        ("_HLS_msn=1.0", "not_a_number"),
        ("_HLS_msn=0x10", "not_a_number"),
        ("_HLS_msn=１", "not_a_number"),
        ("_HLS_msn=18446744073709551616", "too_large"),
        ("_HLS_msn=999999999999999999999999", "too_large"),
        ("_HLS_skip=yes", "invalid_skip"),
        ("_HLS_skip=NO", "invalid_skip"),
    ];
    for (q, reason) in cases {
        assert_eq!(parse(q), Err(reason), "{q}");
    }
    assert_eq!(parse(&"a".repeat(MAX_QUERY_LEN + 1)), Err("too_long"));
}

#[test]
fn display_is_canonical() {
    let q = PlaylistQuery {
        msn: Some(5),
        part: Some(0),
        skip: SkipRequest::Segments,
    };
    assert_eq!(q.to_string(), "_HLS_msn=5&_HLS_part=0&_HLS_skip=YES");
    assert_eq!(PlaylistQuery::default().to_string(), "");
}

fn any_query() -> impl Strategy<Value = PlaylistQuery> {
    let skip = prop_oneof![
        Just(SkipRequest::Full),
        Just(SkipRequest::Segments),
        Just(SkipRequest::SegmentsAndDateRanges)
    ];
    (
        proptest::option::of(any::<u64>()),
        any::<u64>(),
        any::<bool>(),
        skip,
    )
        .prop_map(|(msn, part, with_part, skip)| PlaylistQuery {
            msn,
            part: (with_part && msn.is_some()).then_some(part),
            skip,
        })
}

proptest! {
    #[test]
    fn round_trips(query in any_query()) {
        prop_assert_eq!(PlaylistQuery::parse(&query.to_string()), Ok(query));
    }

    #[test]
    fn never_panics(input in ".{0,64}") {
        let _ = PlaylistQuery::parse(&input);
    }
}
