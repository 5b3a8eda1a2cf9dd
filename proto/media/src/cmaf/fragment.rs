//! CMAF fragments (ISO/IEC 23000-19 §7.3.2.3): one `moof` + one `mdat`, written by
//! hand in a single pass (see the module docs of [`crate::cmaf`] for why).
//!
//! Box layout (ISO/IEC 14496-12): `moof` { `mfhd` §8.8.5, per track `traf` { `tfhd`
//! §8.8.7 with default-base-is-moof, `tfdt` v1 §8.8.12, `trun` §8.8.8 } }, `mdat`
//! with the tracks' sample bytes in `traf` order.

use bytes::{BufMut, Bytes, BytesMut};

use super::{AUDIO_TRACK_ID, NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS, TrackRun};

/// tfhd flags: default-base-is-moof (0x020000), so data offsets are moof-relative as
/// CMAF requires (§7.5.16).
const TFHD_BASE_IS_MOOF: u32 = 0x02_0000;
/// tfhd flags: default-sample-flags-present.
const TFHD_DEFAULT_FLAGS: u32 = 0x00_0020;
/// trun flags: data-offset, sample-duration, sample-size, sample-flags,
/// sample-composition-time-offsets present (video).
const TRUN_VIDEO: u32 = 0x00_0f01;
/// trun flags: data-offset, sample-duration, sample-size (audio: every AAC frame is a
/// sync sample, so its flags come from the tfhd default).
const TRUN_AUDIO: u32 = 0x00_0301;

/// Writes one `moof`+`mdat` for `runs` (runs without samples are left out).
///
/// The video run uses `trun` version 1 so composition offsets are signed (B-frames
/// with negative offsets, and encoders that start at pts < dts). Callers bound the
/// total size far below 2 GiB (the packager's `MAX_PENDING_BYTES`), so the 32-bit
/// `data_offset` always fits.
pub fn write_fragment(sequence: u32, runs: &[TrackRun<'_>]) -> Bytes {
    let runs = || runs.iter().filter(|r| !r.samples.is_empty());
    let moof_size: usize = 8 + 16 + runs().map(traf_size).sum::<usize>();
    let media: usize = runs()
        .flat_map(|r| r.samples.iter())
        .map(|s| s.data.len())
        .sum();
    let large = media + 8 > u32::MAX as usize;
    let mdat_header = if large { 16 } else { 8 };
    let mut out = BytesMut::with_capacity(moof_size + mdat_header + media);

    box_header(&mut out, moof_size, b"moof");
    box_header(&mut out, 16, b"mfhd");
    out.put_u32(0); // version 0, flags 0
    out.put_u32(sequence);

    let mut data_offset = moof_size + mdat_header;
    for run in runs() {
        let audio = run.track_id == AUDIO_TRACK_ID;
        box_header(&mut out, traf_size(run), b"traf");
        // tfhd
        let tfhd_flags = TFHD_BASE_IS_MOOF | if audio { TFHD_DEFAULT_FLAGS } else { 0 };
        box_header(&mut out, tfhd_size(audio), b"tfhd");
        out.put_u32(tfhd_flags);
        out.put_u32(run.track_id);
        if audio {
            out.put_u32(SYNC_SAMPLE_FLAGS);
        }
        // tfdt version 1: a 64-bit decode time never wraps in a long live stream.
        box_header(&mut out, 20, b"tfdt");
        out.put_u32(1 << 24);
        out.put_u64(run.base_decode_time);
        // trun
        box_header(&mut out, trun_size(run), b"trun");
        out.put_u32(if audio {
            TRUN_AUDIO
        } else {
            (1 << 24) | TRUN_VIDEO
        });
        out.put_u32(run.samples.len() as u32);
        out.put_i32(i32::try_from(data_offset).unwrap_or(i32::MAX));
        for s in run.samples {
            out.put_u32(s.duration);
            out.put_u32(s.data.len() as u32);
            if !audio {
                out.put_u32(if s.keyframe {
                    SYNC_SAMPLE_FLAGS
                } else {
                    NON_SYNC_SAMPLE_FLAGS
                });
                out.put_i32(s.composition_offset);
            }
            data_offset += s.data.len();
        }
    }

    if large {
        out.put_u32(1);
        out.put_slice(b"mdat");
        out.put_u64(media as u64 + 16);
    } else {
        box_header(&mut out, media + 8, b"mdat");
    }
    for s in runs().flat_map(|r| r.samples.iter()) {
        out.put_slice(&s.data);
    }
    out.freeze()
}

fn box_header(out: &mut BytesMut, size: usize, kind: &[u8; 4]) {
    out.put_u32(u32::try_from(size).unwrap_or(u32::MAX));
    out.put_slice(kind);
}

fn tfhd_size(audio: bool) -> usize {
    if audio { 20 } else { 16 }
}

fn trun_size(run: &TrackRun<'_>) -> usize {
    let per_sample = if run.track_id == AUDIO_TRACK_ID {
        8
    } else {
        16
    };
    12 + 4 + 4 + per_sample * run.samples.len()
}

fn traf_size(run: &TrackRun<'_>) -> usize {
    8 + tfhd_size(run.track_id == AUDIO_TRACK_ID) + 20 + trun_size(run)
}
