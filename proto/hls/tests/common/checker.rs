//! Playlist checks shared by the integration tests: a client-style merge of a delta update and
//! small parsers for the numbers the invariants talk about.

#![allow(dead_code, reason = "each test target uses a different subset")]

/// Expands the `EXT-X-SKIP` of `delta` with the segments of `full`, as a merging client does,
/// and drops the `EXT-X-MAP` the delta repeats for its first kept segment when it equals the
/// one already in force. The result must equal `full` exactly.
pub(crate) fn expand_delta(delta: &str, full: &str) -> Result<String, String> {
    let full_lines: Vec<&str> = full.lines().collect();
    let mut out: Vec<&str> = Vec::new();
    let mut lines = delta.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(attrs) = line.strip_prefix("#EXT-X-SKIP:") else {
            out.push(line);
            continue;
        };
        let skipped: usize = attrs
            .split(',')
            .find_map(|a| a.strip_prefix("SKIPPED-SEGMENTS="))
            .ok_or("no SKIPPED-SEGMENTS")?
            .parse()
            .map_err(|_| "bad SKIPPED-SEGMENTS")?;
        // Copy the first `skipped` segments of the full playlist: everything after the header
        // up to and including the skipped-th URI line.
        let header_end = full_lines
            .iter()
            .position(|l| l.starts_with("#EXT-X-DISCONTINUITY-SEQUENCE:"))
            .ok_or("full playlist has no header end")?;
        let mut uris = 0;
        for l in &full_lines[header_end + 1..] {
            if uris == skipped {
                break;
            }
            out.push(l);
            if !l.starts_with('#') {
                uris += 1;
            }
        }
        if uris != skipped {
            return Err(format!(
                "full playlist has {uris} segments, delta skipped {skipped}"
            ));
        }
        // Drop a repeated MAP in the first kept segment's tags if it is the one in force.
        let map_in_force = out
            .iter()
            .rev()
            .find(|l| l.starts_with("#EXT-X-MAP:"))
            .copied();
        let mut kept = Vec::new();
        while let Some(l) = lines.next_if(|l| l.starts_with('#') && !l.starts_with("#EXT-X-PART:"))
        {
            if Some(l) != map_in_force {
                kept.push(l);
            }
        }
        out.extend(kept);
    }
    let mut text = out.join("\n");
    text.push('\n');
    Ok(text)
}

/// A decimal-floating-point with five decimals, in 10 µs units.
pub(crate) fn units(value: &str) -> u64 {
    let (int, frac) = value.split_once('.').unwrap_or((value, "0"));
    let frac = format!("{frac:0<5}");
    int.parse::<u64>().expect("integer part") * 100_000
        + frac[..5].parse::<u64>().expect("fraction")
}

/// The value of `attr=` in a tag line, without quotes.
pub(crate) fn attribute<'a>(line: &'a str, attr: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(':')?;
    rest.split(',')
        .find_map(|a| a.strip_prefix(attr)?.strip_prefix('='))
}

/// The value of a single-value tag, e.g. `#EXT-X-TARGETDURATION`.
pub(crate) fn tag_value<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(tag)?.strip_prefix(':'))
}

/// Durations of every `EXTINF`, in 10 µs units.
pub(crate) fn extinf_units(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|v| units(v.trim_end_matches(',')))
        .collect()
}
