use bytes::Bytes;
use mp4_atom::{Decode, Ftyp, Moof, Moov};

use super::*;
use crate::testutil::{PPS, SPS_1080P, avcc};
use crate::{AacConfig, AvcConfig};

fn sample(duration: u32, cts: i32, keyframe: bool, data: &'static [u8]) -> Sample {
    Sample {
        duration,
        composition_offset: cts,
        keyframe,
        data: Bytes::from_static(data),
    }
}

#[test]
fn fragment_round_trips_through_mp4_atom() {
    let video = [
        sample(3000, 6000, true, b"IDR!"),
        sample(3000, -3000, false, b"B"),
        sample(3000, 0, false, b"Pp"),
    ];
    let audio = [
        sample(1024, 0, true, b"aac1"),
        sample(1024, 0, true, b"aac2!"),
    ];
    let runs = [
        TrackRun {
            track_id: VIDEO_TRACK_ID,
            base_decode_time: 90_000,
            samples: &video,
        },
        TrackRun {
            track_id: AUDIO_TRACK_ID,
            base_decode_time: 44_100,
            samples: &audio,
        },
    ];
    let data = write_fragment(7, &runs);
    let mut buf = &data[..];
    let moof = Moof::decode(&mut buf).unwrap();
    assert_eq!(moof.mfhd.sequence_number, 7);
    assert_eq!(moof.traf.len(), 2);
    let moof_len = data.len() - buf.len();
    assert_eq!(&buf[4..8], b"mdat");
    assert_eq!(
        u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize,
        buf.len()
    );

    let v = &moof.traf[0];
    assert!(v.tfhd.default_base_is_moof);
    assert_eq!(v.tfdt.as_ref().unwrap().base_media_decode_time, 90_000);
    let trun = &v.trun[0];
    let entries: Vec<_> = trun.samples.iter().collect();
    assert_eq!(entries[1].cts, Some(-3000), "signed composition offset");
    assert_eq!(entries[0].flags, Some(SYNC_SAMPLE_FLAGS));
    assert_eq!(entries[2].flags, Some(NON_SYNC_SAMPLE_FLAGS));
    let off = trun.data_offset.unwrap() as usize;
    assert_eq!(off, moof_len + 8);
    assert_eq!(&data[off..off + 4], b"IDR!");

    let a = &moof.traf[1];
    assert_eq!(a.tfhd.default_sample_flags, Some(SYNC_SAMPLE_FLAGS));
    let off = a.trun[0].data_offset.unwrap() as usize;
    assert_eq!(&data[off..off + 9], b"aac1aac2!");
}

#[test]
fn empty_runs_are_left_out() {
    let audio = [sample(1024, 0, true, b"x")];
    let runs = [
        TrackRun {
            track_id: VIDEO_TRACK_ID,
            base_decode_time: 0,
            samples: &[],
        },
        TrackRun {
            track_id: AUDIO_TRACK_ID,
            base_decode_time: 0,
            samples: &audio,
        },
    ];
    let data = write_fragment(1, &runs);
    let moof = Moof::decode(&mut &data[..]).unwrap();
    assert_eq!(moof.traf.len(), 1);
    assert_eq!(moof.traf[0].tfhd.track_id, AUDIO_TRACK_ID);
}

#[test]
fn init_has_both_tracks() {
    let video = AvcConfig::parse(&avcc()).unwrap();
    let audio = AacConfig::parse(Bytes::from_static(&[0x12, 0x10])).unwrap();
    let init = write_init(Some(&video), Some(&audio)).unwrap();
    let mut buf = &init[..];
    let ftyp = Ftyp::decode(&mut buf).unwrap();
    assert_eq!(ftyp.major_brand, mp4_atom::FourCC::new(b"iso6"));
    let moov = Moov::decode(&mut buf).unwrap();
    assert!(buf.is_empty());
    assert_eq!(moov.trak.len(), 2);
    assert_eq!(moov.mvex.as_ref().unwrap().trex.len(), 2);
    let vt = &moov.trak[0];
    assert_eq!(vt.tkhd.track_id, VIDEO_TRACK_ID);
    assert_eq!(vt.mdia.mdhd.timescale, VIDEO_TIMESCALE);
    let mp4_atom::Codec::Avc1(avc1) = &vt.mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not avc1")
    };
    assert_eq!((avc1.visual.width, avc1.visual.height), (1920, 1080));
    assert_eq!(avc1.avcc.sequence_parameter_sets[0], SPS_1080P);
    assert_eq!(avc1.avcc.picture_parameter_sets[0], PPS);
    let at = &moov.trak[1];
    assert_eq!(at.mdia.mdhd.timescale, 44100);
    let mp4_atom::Codec::Mp4a(mp4a) = &at.mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not mp4a")
    };
    let dsi = mp4a.esds.es_desc.dec_config.dec_specific.as_ref().unwrap();
    assert_eq!(dsi.raw, vec![0x12, 0x10]);

    let only_audio = write_init(None, Some(&audio)).unwrap();
    let mut buf = &only_audio[..];
    Ftyp::decode(&mut buf).unwrap();
    assert_eq!(Moov::decode(&mut buf).unwrap().trak.len(), 1);
}

#[test]
fn an_init_segment_describes_its_codecs_size_and_frame_rate() {
    let clip = bytes::Bytes::from_static(include_bytes!("../../assets/demo.flv"));
    let mut packager = crate::Packager::new(crate::PackagerConfig::default());
    for tag in crate::flv::FlvReader::new(clip)
        .unwrap()
        .map(Result::unwrap)
        .take(40)
    {
        let ts = u64::from(tag.timestamp_ms);
        let _ = match tag.tag_type {
            crate::flv::TagType::Video => packager.handle_video(ts, tag.body),
            crate::flv::TagType::Audio => packager.handle_audio(ts, tag.body),
            _ => Ok(()),
        };
    }
    let init = std::iter::from_fn(|| packager.poll_output())
        .find_map(|event| match event {
            crate::Event::Init { init, codecs, .. } => Some((init, codecs)),
            _ => None,
        })
        .unwrap();
    let described = super::describe_init(&init.0).unwrap();
    assert_eq!(
        described.codecs, init.1,
        "the same CODECS the packager computed from FLV"
    );
    assert_eq!(described.resolution, Some((640, 360)));
    assert!(
        described
            .frame_rate
            .is_some_and(|r| (r - 30.0).abs() < 0.01)
    );
    assert!(super::describe_init(b"junk").is_none());
}
