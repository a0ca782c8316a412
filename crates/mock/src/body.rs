//! Request and response bodies: buffering the first bytes for the WAF without giving up
//! streaming for the rest.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;

use crate::errors::BodyError;

/// Every response body: fixed pages and streamed upstream bodies alike.
pub(crate) type ResponseBody = UnsyncBoxBody<Bytes, BodyError>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Reads up to `limit` bytes (whole frames, so possibly a little more) and hands back the
/// rest of the body unread. Trailers met on the way are dropped.
pub(crate) async fn read_prefix(
    mut body: Incoming,
    limit: usize,
) -> Result<(Bytes, Option<Incoming>), hyper::Error> {
    if body.is_end_stream() {
        return Ok((Bytes::new(), None));
    }
    let mut buffer = BytesMut::new();
    while buffer.len() < limit {
        match body.frame().await {
            None => return Ok((buffer.freeze(), None)),
            Some(frame) => {
                if let Ok(data) = frame?.into_data() {
                    buffer.extend_from_slice(&data);
                }
            }
        }
    }
    Ok((buffer.freeze(), Some(body)))
}

/// Reads a whole body of at most `limit` bytes; `None` when it is larger.
pub(crate) async fn read_all(
    prefix: Bytes,
    rest: Option<Incoming>,
    limit: usize,
) -> Result<Option<Bytes>, hyper::Error> {
    let Some(mut rest) = rest else {
        return Ok((prefix.len() <= limit).then_some(prefix));
    };
    let mut buffer = BytesMut::from(prefix);
    while let Some(frame) = rest.frame().await {
        if let Ok(data) = frame?.into_data() {
            buffer.extend_from_slice(&data);
            if buffer.len() > limit {
                return Ok(None);
            }
        }
    }
    Ok(Some(buffer.freeze()))
}

/// The bytes already read, then the rest of the incoming body as it arrives.
#[derive(Debug)]
pub(crate) struct PrefixedBody {
    prefix: Option<Bytes>,
    rest: Option<Incoming>,
}

impl PrefixedBody {
    pub(crate) fn new(prefix: Bytes, rest: Option<Incoming>) -> Self {
        Self {
            prefix: (!prefix.is_empty()).then_some(prefix),
            rest,
        }
    }
}

impl Body for PrefixedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint);
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + prefix);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + prefix);
        }
        hint
    }
}
