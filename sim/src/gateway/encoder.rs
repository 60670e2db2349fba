//! Transport compression of one connection (`zlib-stream`, `zstd-stream` or none).

use axum::extract::ws::{Message, Utf8Bytes};
use zstd::zstd_safe;

/// Transport compression of one connection.
pub(super) enum Encoder {
    None,
    Zlib(Box<flate2::Compress>),
    Zstd(Box<zstd_safe::CCtx<'static>>),
}

impl Encoder {
    /// The encoder for a `compress` query value (`None` for an unsupported one).
    pub(super) fn for_compress(compress: Option<&str>) -> Option<Self> {
        Some(match compress {
            None => Self::None,
            Some("zlib-stream") => Self::Zlib(Box::new(flate2::Compress::new(
                flate2::Compression::default(),
                true,
            ))),
            Some("zstd-stream") => {
                let mut c = zstd_safe::CCtx::create();
                let _ = c.set_parameter(zstd_safe::CParameter::CompressionLevel(3));
                Self::Zstd(Box::new(c))
            }
            Some(_) => return None,
        })
    }

    pub(super) fn encode(&mut self, text: &str) -> Message {
        match self {
            Self::None => Message::Text(Utf8Bytes::from(text)),
            Self::Zlib(c) => {
                let mut out = Vec::with_capacity(text.len() / 2 + 64);
                let input = text.as_bytes();
                let start_in = c.total_in();
                loop {
                    let consumed = (c.total_in() - start_in) as usize;
                    if out.capacity() - out.len() < 64 {
                        out.reserve(out.capacity().max(1024));
                    }
                    c.compress_vec(&input[consumed..], &mut out, flate2::FlushCompress::Sync)
                        .expect("zlib compression does not fail on valid state");
                    let consumed = (c.total_in() - start_in) as usize;
                    if consumed == input.len()
                        && out.len() < out.capacity()
                        && out.ends_with(&[0, 0, 0xff, 0xff])
                    {
                        break;
                    }
                }
                Message::Binary(out.into())
            }
            Self::Zstd(c) => {
                let mut out: Vec<u8> = Vec::with_capacity(text.len() / 2 + 128);
                let mut input = zstd_safe::InBuffer::around(text.as_bytes());
                loop {
                    if out.capacity() - out.len() < 1024 {
                        out.reserve(out.capacity().max(16 * 1024));
                    }
                    let pos = out.len();
                    let mut ob = zstd_safe::OutBuffer::around_pos(&mut out, pos);
                    let remaining = c
                        .compress_stream2(
                            &mut ob,
                            &mut input,
                            zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_flush,
                        )
                        .expect("zstd compression does not fail on valid state");
                    if remaining == 0 && input.pos == input.src.len() {
                        break;
                    }
                }
                Message::Binary(out.into())
            }
        }
    }
}
