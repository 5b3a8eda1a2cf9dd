//! Pull on first viewer: a request for a stream the edge does not hold asks the upstream for
//! it and waits (bounded) until the first window arrives.

use std::sync::Arc;
use std::time::Duration;

use serve::{SourceFuture, StreamSource, StreamTable};

use crate::upstreams::Upstreams;

/// The edge's [`StreamSource`]: its table, filled from upstream on demand.
pub(crate) struct EdgeSource {
    table: Arc<StreamTable>,
    upstreams: Upstreams,
    pull_wait: Duration,
}

impl EdgeSource {
    pub(crate) fn new(table: Arc<StreamTable>, upstreams: Upstreams, pull_wait: Duration) -> Self {
        Self {
            table,
            upstreams,
            pull_wait,
        }
    }
}

impl StreamSource for EdgeSource {
    fn find<'a>(&'a self, name: &'a str) -> SourceFuture<'a> {
        Box::pin(async move {
            if let Some(stream) = self.table.get(name) {
                return Some(stream);
            }
            // Only names that can exist are asked for, so junk URLs cost the upstream nothing.
            if matches!(self.upstreams, Upstreams::None) || !serve::is_valid_stream_name(name) {
                return None;
            }
            let waited = self.table.wait_for(name, self.pull_wait);
            self.upstreams.want(name).await;
            waited.await
        })
    }
}
