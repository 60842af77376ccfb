//! Voice notes: the container (WebM/Matroska, Ogg, MP4) is read for its packets' timestamps to
//! measure the length; no audio is decoded. Chrome's MediaRecorder writes WebM without a
//! duration in its header, so the length is where the last packet ends.

use std::io::Cursor;

use symphonia::core::errors::Error as ReadError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A container we take, from its first bytes.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("audio/webm")
    } else if data.starts_with(b"OggS") {
        Some("audio/ogg")
    } else if data.len() > 12 && &data[4..8] == b"ftyp" {
        Some("audio/mp4")
    } else {
        None
    }
}

/// What the container says.
#[derive(Debug, PartialEq, Eq)]
pub struct Probe {
    /// The type to serve it as, from the container itself (not what the client claimed).
    pub content_type: &'static str,
    pub duration_ms: u64,
}

/// Reads the container and measures it; a reason for the member when it is not a voice note.
pub fn probe(data: &[u8]) -> Result<Probe, String> {
    let content_type =
        sniff(data).ok_or_else(|| "this is not a WebM, Ogg or MP4 voice note".to_owned())?;
    let mut hint = Hint::new();
    hint.with_extension(match content_type {
        "audio/webm" => "webm",
        "audio/ogg" => "ogg",
        _ => "m4a",
    });
    let source = MediaSourceStream::new(Box::new(Cursor::new(data.to_vec())), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| format!("the voice note could not be read: {e}"))?;
    let mut format = probed.format;
    let tracks = format.tracks();
    if tracks.is_empty() {
        return Err("the file holds no sound".into());
    }
    // Sound only: a track without a sample rate is video (or something else).
    if tracks.iter().any(|t| t.codec_params.sample_rate.is_none()) {
        return Err("a voice note holds sound only".into());
    }
    let Some(track) = format.default_track() else {
        return Err("the file holds no sound".into());
    };
    let track_id = track.id;
    let time_base = track.codec_params.time_base.or_else(|| {
        track
            .codec_params
            .sample_rate
            .map(|r| symphonia::core::units::TimeBase::new(1, r))
    });
    let Some(time_base) = time_base else {
        return Err("the voice note has no timing".into());
    };
    let start = track.codec_params.start_ts;
    let mut end: u64 = 0;
    let mut packets = 0u64;
    loop {
        match format.next_packet() {
            Ok(packet) => {
                if packet.track_id() == track_id {
                    packets += 1;
                    end = end.max(packet.ts().saturating_add(packet.dur()));
                }
            }
            Err(ReadError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(ReadError::ResetRequired) => break,
            Err(e) => return Err(format!("the voice note is damaged: {e}")),
        }
    }
    if packets == 0 {
        return Err("the voice note is empty".into());
    }
    let time = time_base.calc_time(end.saturating_sub(start));
    let duration_ms = time.seconds * 1000 + (time.frac * 1000.0).round() as u64;
    Ok(Probe {
        content_type,
        duration_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_apart() {
        assert_eq!(sniff(b"OggS\0\x02"), Some("audio/ogg"));
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]), Some("audio/webm"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A \0\0"), Some("audio/mp4"));
        assert_eq!(sniff(b"RIFF...."), None);
    }

    #[test]
    fn garbage_is_no_voice_note() {
        assert!(probe(b"OggS garbage").is_err());
        assert!(probe(b"hello").is_err());
    }
}
