//! Library half of the `livecdn` binary: what `livecdn dev` runs, kept testable.
//! The binary (`main.rs`) owns the CLI and process concerns.
#![warn(missing_docs)]

pub mod dev;
