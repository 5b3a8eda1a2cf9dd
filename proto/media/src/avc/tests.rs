use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// x264 1080p High: 1088 coded rows cropped to 1080, VUI timing for 25 fps.
const SPS_1080P: &str = "67640028acd940780227e5c044000003000400000300c83c60c658";
/// x264 High 4:4:4 Predictive (profile 244), 640x360, 50 fps.
const SPS_444: &str = "67f4001f919b281405ff1380880000030008000003032078c18cb0";

fn avcc(sps: &[u8], pps: &[u8], ext: &[u8]) -> Vec<u8> {
    let mut out = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    out.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1);
    out.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    out.extend_from_slice(pps);
    out.extend_from_slice(ext);
    out
}

#[test]
fn parses_1080p_with_cropping_and_timing() {
    let sps = parse_sps(&hex(SPS_1080P)).unwrap();
    assert_eq!((sps.width, sps.height), (1920, 1080));
    assert_eq!((sps.profile_idc, sps.level_idc), (100, 40));
    assert_eq!(sps.frame_rate, Some(25.0));
}

#[test]
fn parses_high_444() {
    let sps = parse_sps(&hex(SPS_444)).unwrap();
    assert_eq!(
        (sps.width, sps.height, sps.chroma_format_idc),
        (640, 360, 3)
    );
    assert_eq!(sps.frame_rate, Some(50.0));
}

#[test]
fn parses_avcc_and_codec_string() {
    let sps = hex(SPS_1080P);
    let cfg = AvcConfig::parse(&avcc(
        &sps,
        &[0x68, 0xeb, 0xe3, 0xcb],
        &[0xfd, 0xf8, 0xf8, 0],
    ))
    .unwrap();
    assert_eq!(cfg.codec_string(), "avc1.640028");
    assert_eq!(cfg.nalu_length_size, 4);
    assert_eq!((cfg.sps.len(), cfg.pps.len()), (1, 1));
    assert_eq!(
        cfg.ext,
        Some(AvcConfigExt {
            chroma_format: 1,
            bit_depth_luma: 8,
            bit_depth_chroma: 8
        })
    );
    // Without the High extension the record is still accepted.
    assert_eq!(
        AvcConfig::parse(&avcc(&sps, &[0x68, 1], &[])).unwrap().ext,
        None
    );
}

#[test]
fn refuses_bad_records() {
    let sps = hex(SPS_1080P);
    let good = avcc(&sps, &[0x68, 1], &[]);
    let mut bad_version = good.clone();
    bad_version[0] = 0;
    assert_eq!(
        AvcConfig::parse(&bad_version).unwrap_err().reason(),
        "invalid_avc_config"
    );
    for cut in 0..good.len() - 1 {
        assert!(AvcConfig::parse(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut no_sps = good.clone();
    no_sps[5] = 0xe0;
    assert!(AvcConfig::parse(&no_sps).is_err());
    let huge = vec![0x67; MAX_SPS_SIZE + 1];
    assert_eq!(
        parse_sps(&huge).unwrap_err().reason(),
        "parameter_set_too_large"
    );
    assert_eq!(
        parse_sps(&[0x68, 0, 0]).unwrap_err().reason(),
        "invalid_sps"
    );
}

proptest::proptest! {
    #[test]
    fn sps_parser_never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        let mut nalu = vec![0x67];
        nalu.extend(tail);
        let _ = parse_sps(&nalu);
        let _ = AvcConfig::parse(&nalu);
    }
}
