#!/usr/bin/env python3
"""Independent LL-HLS checker for a live media playlist URL.

Parses playlists with the `m3u8` package (not our renderer) and checks what RFC 8216bis and
../../shared/llhls-checklist.md require of what the origin serves:

- SERVER-CONTROL / PART-INF / TARGETDURATION values and their relations;
- numbering: segment and part URIs follow EXT-X-MEDIA-SEQUENCE without gaps;
- every part's duration <= PART-TARGET, every segment's rounded duration <= TARGETDURATION;
- every listed complete segment is byte-for-byte the concatenation of its parts;
- a blocking request for the hinted part returns a playlist that contains it, and the hinted
  part itself is then served;
- a delta update (_HLS_skip=YES) expands to the full playlist of the same moment.

Usage: check_llhls.py http://host:port/live/STREAM/RENDITION/index.m3u8
Prints one JSON object: {"ok": bool, "errors": [...], "checked": {...}}. Exit status 0.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import m3u8

TIMEOUT_S = 15
EPSILON = 1e-6


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{url}: HTTP {error.code}") from error


def playlist(url):
    status, body = fetch(url)
    if status != 200:
        raise RuntimeError(f"{url}: HTTP {status}")
    text = body.decode()
    return text, m3u8.loads(text)


def part_position(uri):
    """part12.3.m4s -> (12, 3)"""
    stem = uri.removeprefix("part").removesuffix(".m4s")
    msn, index = stem.split(".")
    return int(msn), int(index)


def check(url):
    errors = []
    checked = {"segments": 0, "parts": 0, "concatenations": 0}
    base = url.rsplit("/", 1)[0] + "/"
    _, pl = playlist(url)

    # Header tags.
    if pl.server_control is None or pl.part_inf is None:
        return {"ok": False, "errors": ["missing EXT-X-SERVER-CONTROL or EXT-X-PART-INF"], "checked": checked}
    part_target = pl.part_inf.part_target
    target = pl.target_duration
    sc = pl.server_control
    if sc.can_block_reload != "YES":
        errors.append("CAN-BLOCK-RELOAD is not YES")
    if sc.part_hold_back is None or sc.part_hold_back < 2 * part_target - EPSILON:
        errors.append(f"PART-HOLD-BACK {sc.part_hold_back} < 2 x PART-TARGET {part_target}")
    if sc.can_skip_until is not None and sc.can_skip_until < 6 * target - EPSILON:
        errors.append(f"CAN-SKIP-UNTIL {sc.can_skip_until} < 6 x TARGETDURATION {target}")
    if sc.can_skip_until is not None and (pl.version or 0) < 9:
        errors.append(f"EXT-X-VERSION {pl.version} < 9 with delta updates offered")
    if not pl.segment_map:
        errors.append("no EXT-X-MAP")
    if pl.preload_hint is None and not pl.is_endlist:
        errors.append("no EXT-X-PRELOAD-HINT on a live playlist")

    # Numbering, durations, concatenation.
    msn = pl.media_sequence
    for segment in pl.segments:
        complete = segment.uri is not None
        if complete:
            checked["segments"] += 1
            if segment.uri != f"seg{msn}.m4s":
                errors.append(f"segment {msn} has URI {segment.uri}")
            if round(segment.duration) > target:
                errors.append(f"segment {msn} lasts {segment.duration} > TARGETDURATION {target}")
        for index, part in enumerate(segment.parts):
            checked["parts"] += 1
            if part.uri != f"part{msn}.{index}.m4s":
                errors.append(f"part {msn}.{index} has URI {part.uri}")
            if part.duration > part_target + EPSILON:
                errors.append(f"part {part.uri} lasts {part.duration} > PART-TARGET {part_target}")
        if complete and segment.parts:
            part_sum = sum(p.duration for p in segment.parts)
            if abs(part_sum - segment.duration) > 0.002:
                errors.append(f"segment {msn}: parts sum to {part_sum}, EXTINF says {segment.duration}")
            if segment.parts[0].independent != "YES":
                errors.append(f"segment {msn} does not start with an INDEPENDENT part")
            joined = b"".join(fetch(base + p.uri)[1] for p in segment.parts)
            whole = fetch(base + segment.uri)[1]
            checked["concatenations"] += 1
            if joined != whole:
                errors.append(f"segment {msn} ({len(whole)} bytes) != concatenation of its parts ({len(joined)} bytes)")
        if complete:
            msn += 1

    # Blocking reload for the hinted part, then the part itself.
    if pl.preload_hint is not None:
        hinted = pl.preload_hint.uri
        hint_msn, hint_part = part_position(hinted)
        query = urllib.parse.urlencode({"_HLS_msn": hint_msn, "_HLS_part": hint_part})
        text, blocked = playlist(f"{url}?{query}")
        listed = [p.uri for s in blocked.segments for p in s.parts]
        checked["blocking_reload_for"] = hinted
        if hinted not in listed:
            errors.append(f"blocking reload for {hinted} returned a playlist without it")
        status, part = fetch(base + hinted)
        if status != 200 or not part:
            errors.append(f"hinted part {hinted}: HTTP {status}, {len(part)} bytes")

    # Delta update against the full playlist of the same moment: pin both to the next part
    # (each request blocks until it exists), retry if the window moved between them.
    for _attempt in range(5):
        _, now = playlist(url)
        if now.preload_hint is None:
            break
        hint_msn, hint_part = part_position(now.preload_hint.uri)
        pin = urllib.parse.urlencode({"_HLS_msn": hint_msn, "_HLS_part": hint_part})
        full_text, full = playlist(f"{url}?{pin}")
        delta_text, delta = playlist(f"{url}?{pin}&_HLS_skip=YES")
        if full.preload_hint is None or delta.preload_hint is None or full.preload_hint.uri != delta.preload_hint.uri:
            continue  # a part arrived between the two requests
        checked["delta_skipped_segments"] = delta.skip.skipped_segments if delta.skip else None
        if delta.skip is None:
            errors.append("delta playlist has no EXT-X-SKIP")
            break
        skipped = delta.skip.skipped_segments
        full_uris = [s.uri for s in full.segments]
        delta_uris = [s.uri for s in delta.segments]
        if full_uris[skipped:] != delta_uris:
            errors.append(f"delta segments {delta_uris} != full segments after skipping {skipped}: {full_uris[skipped:]}")
        full_parts = [p.uri for s in full.segments for p in s.parts]
        delta_parts = [p.uri for s in delta.segments for p in s.parts]
        if full_parts != delta_parts:
            errors.append("delta and full playlists list different parts")
        if delta.media_sequence != full.media_sequence:
            errors.append(f"delta MEDIA-SEQUENCE {delta.media_sequence} != full {full.media_sequence}")
        checked["delta_compared"] = True
        break
    else:
        errors.append("could not pin a full and a delta playlist to the same moment")

    return {"ok": not errors, "errors": errors, "checked": checked}


if __name__ == "__main__":
    try:
        result = check(sys.argv[1])
    except Exception as error:  # report, do not crash: the Rust test prints this
        result = {"ok": False, "errors": [f"checker failed: {error!r}"], "checked": {}}
    print(json.dumps(result))
