//! `livecdn_http_responses_total{status}` as a tower layer whose future wraps the route's
//! future in place. `axum::middleware::from_fn` costs, per request, a clone of the boxed inner
//! service, a boxed future and a `Family` lookup (a lock and a SipHash of the labels); here
//! the `200` counter is resolved once and other statuses are looked up.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use prometheus_client::metrics::counter::Counter;
use tower::{Layer, Service};

use crate::metrics::{HttpMetrics, ResponseLabels};

/// Counts every response of the wrapped service by status.
#[derive(Clone)]
pub(super) struct ResponseMetricsLayer {
    counters: Arc<Counters>,
}

struct Counters {
    metrics: HttpMetrics,
    ok: Counter,
}

impl ResponseMetricsLayer {
    pub(super) fn new(metrics: HttpMetrics) -> Self {
        let ok = metrics
            .responses
            .get_or_create(&ResponseLabels { status: 200 })
            .clone();
        Self {
            counters: Arc::new(Counters { metrics, ok }),
        }
    }
}

impl<S> Layer<S> for ResponseMetricsLayer {
    type Service = ResponseMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResponseMetrics {
            inner,
            counters: self.counters.clone(),
        }
    }
}

/// The service [`ResponseMetricsLayer`] makes.
#[derive(Clone)]
pub(super) struct ResponseMetrics<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S> Service<Request> for ResponseMetrics<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Counted {
            inner: self.inner.call(request),
            counters: self.counters.clone(),
        }
    }
}

/// The route's future, counting its response when it completes.
pub(super) struct Counted<F> {
    inner: F,
    counters: Arc<Counters>,
}

impl<F, E> Future for Counted<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = Pin::new(&mut self.inner).poll(cx);
        if let Poll::Ready(Ok(response)) = &polled {
            let status = response.status();
            if status == StatusCode::OK {
                self.counters.ok.inc();
            } else {
                self.counters
                    .metrics
                    .responses
                    .get_or_create(&ResponseLabels {
                        status: status.as_u16(),
                    })
                    .inc();
            }
        }
        polled
    }
}
