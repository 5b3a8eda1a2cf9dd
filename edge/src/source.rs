//! Pull on first viewer: a request for a stream the edge does not hold asks the upstream for
//! it and waits (bounded) until the first window arrives.

use std::sync::Arc;
use std::time::Duration;

use relay::subscribe::Upstream;
use serve::{SourceFuture, StreamSource, StreamTable};

/// The edge's [`StreamSource`]: its table, filled from upstream on demand.
pub(crate) struct EdgeSource {
    table: Arc<StreamTable>,
    upstream: Option<Upstream>,
    pull_wait: Duration,
}

impl EdgeSource {
    pub(crate) fn new(
        table: Arc<StreamTable>,
        upstream: Option<Upstream>,
        pull_wait: Duration,
    ) -> Self {
        Self {
            table,
            upstream,
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
            let upstream = self
                .upstream
                .as_ref()
                .filter(|_| serve::is_valid_stream_name(name))?;
            upstream.want(name);
            self.table.wait_for(name, self.pull_wait).await
        })
    }
}
