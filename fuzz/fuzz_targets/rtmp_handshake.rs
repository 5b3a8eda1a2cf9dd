#![no_main]
//! Arbitrary bytes as a client into a fresh ServerSession (handshake first,
//! then whatever follows as chunk stream and commands).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = rtmp::ServerSession::new(rtmp::ServerConfig::default(), 0);
    let _ = session.handle_input(data);
    while session.poll_output().is_some() {}
    while session.poll_transmit().is_some() {}
    let _ = session.accept_publish();
});
