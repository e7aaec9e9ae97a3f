//! An outbound response's body as the guest reads it: an error, not a
//! buffer, once more bytes arrive than the handler may hold; the call's
//! place among the handler's calls in flight kept until it is read or
//! dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::{Error, WasiBody};

pub(crate) struct CappedBody {
    inner: Incoming,
    left: u64,
    limit: u64,
    _permit: OwnedSemaphorePermit,
}

impl CappedBody {
    pub(crate) fn new(inner: Incoming, limit: u64, permit: OwnedSemaphorePermit) -> Self {
        Self {
            inner,
            left: limit,
            limit,
            _permit: permit,
        }
    }

    pub(crate) fn boxed(self) -> WasiBody {
        BodyExt::boxed_unsync(self)
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.left {
                        this.left = 0;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.limit,
                        )))));
                    }
                    this.left -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(Error::from(err)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
