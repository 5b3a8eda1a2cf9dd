//! Sequence parameter set parsing (ITU-T H.264 §7.3.2.1.1 syntax, §7.4.2.1.1
//! semantics, Annex E.1.1 VUI) — only as far as the picture size and timing.

use crate::Error;
use crate::bits::{BitReader, unescape_rbsp};

use super::MAX_SPS_SIZE;

/// What the packager needs from an SPS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sps {
    /// profile_idc (66 Baseline, 77 Main, 100 High, …).
    pub profile_idc: u8,
    /// constraint_set0..5 flags and reserved bits, as one byte.
    pub constraint_flags: u8,
    /// level_idc (31 = level 3.1).
    pub level_idc: u8,
    /// chroma_format_idc (1 = 4:2:0; implied 1 outside the High profiles).
    pub chroma_format_idc: u32,
    /// Luma samples per row after frame cropping.
    pub width: u32,
    /// Luma rows after frame cropping.
    pub height: u32,
    /// Frames per second from VUI timing (time_scale / (2 · num_units_in_tick)),
    /// when the encoder wrote it.
    pub frame_rate: Option<f64>,
}

/// Upper bound for pic_width_in_mbs / pic_height_in_map_units: 16384 px is beyond any
/// level in Table A-1 and keeps the arithmetic far from overflow.
const MAX_MBS: u32 = 1024;

/// Parses one SPS NAL unit (header byte included).
pub fn parse_sps(nalu: &[u8]) -> Result<Sps, Error> {
    if nalu.len() > MAX_SPS_SIZE {
        return Err(Error::ParameterSetTooLarge {
            size: nalu.len(),
            max: MAX_SPS_SIZE,
        });
    }
    let rbsp = unescape_rbsp(nalu);
    let mut r = BitReader::new(&rbsp, Error::Truncated("sps"));
    r.skip(1)?; // forbidden_zero_bit
    r.skip(2)?; // nal_ref_idc
    if r.bits(5)? != 7 {
        return Err(Error::InvalidSps("not an sps nal unit"));
    }
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    if r.ue()? > 31 {
        return Err(Error::InvalidSps("seq_parameter_set_id above 31"));
    }
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    // The High-profile family carries chroma format, bit depth and scaling lists.
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return Err(Error::InvalidSps("chroma_format_idc above 3"));
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        let _bit_depth_luma_minus8 = r.ue()?;
        let _bit_depth_chroma_minus8 = r.ue()?;
        r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let _log2_max_frame_num_minus4 = r.ue()?;
    match r.ue()? {
        0 => {
            let _log2_max_pic_order_cnt_lsb_minus4 = r.ue()?;
        }
        1 => {
            r.skip(1)?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            if cycle > 255 {
                return Err(Error::InvalidSps(
                    "num_ref_frames_in_pic_order_cnt_cycle above 255",
                ));
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        2 => {}
        _ => return Err(Error::InvalidSps("pic_order_cnt_type above 2")),
    }
    let _max_num_ref_frames = r.ue()?;
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()?.saturating_add(1);
    let height_map_units = r.ue()?.saturating_add(1);
    if width_mbs > MAX_MBS || height_map_units > MAX_MBS {
        return Err(Error::InvalidSps("picture larger than 16384 pixels"));
    }
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        r.skip(1)?; // mb_adaptive_frame_field_flag
    }
    r.skip(1)?; // direct_8x8_inference_flag
    let crop = if r.flag()? {
        [r.ue()?, r.ue()?, r.ue()?, r.ue()?]
    } else {
        [0; 4]
    };

    // §7.4.2.1.1: crop offsets are in chroma sample units (CropUnitX/Y).
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let (sub_w, sub_h): (u32, u32) = match (chroma_format_idc, separate_colour_plane) {
        (0, _) | (3, true) => (1, 1),
        (1, _) => (2, 2),
        (2, _) => (2, 1),
        _ => (1, 1),
    };
    let full_w = width_mbs * 16;
    let full_h = height_map_units * 16 * field_factor;
    let crop_w = u64::from(sub_w) * (u64::from(crop[0]) + u64::from(crop[1]));
    let crop_h = u64::from(sub_h * field_factor) * (u64::from(crop[2]) + u64::from(crop[3]));
    let width = u64::from(full_w).checked_sub(crop_w).filter(|&w| w > 0);
    let height = u64::from(full_h).checked_sub(crop_h).filter(|&h| h > 0);
    let (Some(width), Some(height)) = (width, height) else {
        return Err(Error::InvalidSps("frame cropping larger than the picture"));
    };

    let frame_rate = if r.flag()? {
        parse_vui_timing(&mut r)?
    } else {
        None
    };
    Ok(Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        chroma_format_idc,
        // Both fit: at most 16384.
        width: width as u32,
        height: height as u32,
        frame_rate,
    })
}

/// Reads the VUI up to timing_info (Annex E.1.1).
fn parse_vui_timing(r: &mut BitReader<'_>) -> Result<Option<f64>, Error> {
    if r.flag()? {
        // aspect_ratio_info_present_flag: aspect_ratio_idc, then Extended_SAR's sizes.
        if r.bits(8)? == 255 {
            r.skip(32)?;
        }
    }
    if r.flag()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.flag()? {
        r.skip(4)?; // video_format, video_full_range_flag
        if r.flag()? {
            r.skip(24)?; // colour_primaries, transfer_characteristics, matrix_coefficients
        }
    }
    if r.flag()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if !r.flag()? {
        return Ok(None);
    }
    let num_units_in_tick = r.bits(32)?;
    let time_scale = r.bits(32)?;
    if num_units_in_tick == 0 || time_scale == 0 {
        return Ok(None);
    }
    // One frame is two ticks (E.2.1: a tick is one field period).
    Ok(Some(
        f64::from(time_scale) / (2.0 * f64::from(num_units_in_tick)),
    ))
}

/// scaling_list() (§7.3.2.1.1.1): only the delta_scale codes need reading.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), Error> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            next = (i64::from(last) + i64::from(delta)).rem_euclid(256) as i32;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}
