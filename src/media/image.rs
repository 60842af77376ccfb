//! Photos: decoded with a pixel limit checked before any pixel is decoded, turned upright from
//! their orientation tag, and re-encoded from the pixels alone, so no metadata (EXIF, GPS, XMP,
//! ICC comments) survives. Two sizes are kept: `full` (at most 1600 px on the long side) and
//! `thumb` (at most 320 px). Photos become JPEG; images with transparency stay PNG.

use std::io::Cursor;

use image::{DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The long side of `full`, in pixels.
pub const FULL_PX: u32 = 1600;
/// The long side of `thumb`, in pixels.
pub const THUMB_PX: u32 = 320;
/// The most pixels an upload may decode to (a 48-megapixel phone photo fits; a decoding bomb of
/// a few kilobytes claiming 100,000 × 100,000 does not).
pub const MAX_PIXELS: u64 = 50_000_000;
/// The longest side accepted, whatever the pixel count.
const MAX_SIDE: u32 = 20_000;
/// What the decoder may allocate at most (50 Mpx of RGBA and some room).
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// JPEG quality of what is served: small on slow networks, faithful enough for a photo.
const JPEG_QUALITY: u8 = 82;

/// One re-encoded size.
pub struct Encoded {
    pub content_type: &'static str,
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Both sizes of a photo.
pub struct Processed {
    pub full: Encoded,
    pub thumb: Encoded,
}

/// Why a photo was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not JPEG, PNG or WebP.
    Format,
    /// More pixels than `MAX_PIXELS` (or a side longer than allowed).
    TooManyPixels { width: u32, height: u32 },
    /// It says it is an image but does not decode.
    Corrupt(String),
}

/// The image format the bytes are, if one we take.
pub fn sniff(data: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(data).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

/// Decodes and re-encodes `data`. CPU-bound: call it on a blocking thread.
pub fn process(data: &[u8]) -> Result<Processed, Refused> {
    let format = sniff(data).ok_or(Refused::Format)?;
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    // The header alone is read here; the limits above refuse absurd sides at once.
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refused::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(Refused::Corrupt("the image has no pixels".into()));
    }
    // Phones store photos sideways with a tag saying how to turn them; the tag goes with the
    // rest of the metadata, so turn the pixels now.
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let full = fit(&img, FULL_PX);
    let thumb = full.thumbnail(THUMB_PX, THUMB_PX);
    let keep_alpha = has_transparency(&full);
    Ok(Processed {
        full: encode(&full, keep_alpha)?,
        thumb: encode(&thumb, keep_alpha)?,
    })
}

fn refusal(e: image::ImageError) -> Refused {
    match e {
        image::ImageError::Limits(_) => Refused::TooManyPixels {
            width: 0,
            height: 0,
        },
        image::ImageError::Unsupported(_) => Refused::Format,
        other => Refused::Corrupt(other.to_string()),
    }
}

/// The image scaled down to fit `side` × `side`, or as it is when it already fits.
fn fit(img: &DynamicImage, side: u32) -> DynamicImage {
    let (w, h) = img.dimensions();
    if w <= side && h <= side {
        img.clone()
    } else {
        img.resize(side, side, image::imageops::FilterType::Triangle)
    }
}

/// Whether any pixel is not fully opaque (an alpha channel that is all 255 is no reason for PNG).
fn has_transparency(img: &DynamicImage) -> bool {
    if !img.color().has_alpha() {
        return false;
    }
    img.to_rgba8().pixels().any(|p| p.0[3] < 255)
}

fn encode(img: &DynamicImage, keep_alpha: bool) -> Result<Encoded, Refused> {
    let (width, height) = img.dimensions();
    let mut data = Vec::new();
    let content_type = if keep_alpha {
        img.to_rgba8()
            .write_to(&mut Cursor::new(&mut data), ImageFormat::Png)
            .map_err(|e| Refused::Corrupt(e.to_string()))?;
        "image/png"
    } else {
        let rgb = img.to_rgb8();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, JPEG_QUALITY);
        rgb.write_with_encoder(encoder)
            .map_err(|e| Refused::Corrupt(e.to_string()))?;
        "image/jpeg"
    };
    Ok(Encoded {
        content_type,
        data,
        width,
        height,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .unwrap();
        out
    }

    #[test]
    fn big_photos_are_scaled_to_both_sizes() {
        let p = process(&jpeg(2000, 1000)).unwrap();
        assert_eq!((p.full.width, p.full.height), (1600, 800));
        assert_eq!((p.thumb.width, p.thumb.height), (320, 160));
        assert_eq!(p.full.content_type, "image/jpeg");
    }

    #[test]
    fn small_photos_keep_their_size() {
        let p = process(&jpeg(100, 50)).unwrap();
        assert_eq!((p.full.width, p.full.height), (100, 50));
    }

    #[test]
    fn transparency_stays_png() {
        let img = image::RgbaImage::from_fn(10, 10, |x, _| {
            image::Rgba([0, 0, 0, if x < 5 { 0 } else { 255 }])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        assert_eq!(process(&out).unwrap().full.content_type, "image/png");
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(process(b"hello").err(), Some(Refused::Format));
        let mut broken = jpeg(50, 50);
        broken.truncate(40);
        assert!(matches!(process(&broken), Err(Refused::Corrupt(_))));
    }
}
