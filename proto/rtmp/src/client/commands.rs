//! The publisher's command sequence (spec 7.2.1.1, 7.2.2.6): connect →
//! releaseStream/FCPublish/createStream → publish, driven by the replies.

use super::{
    ClientEvent, ClientSession, State, TX_CONNECT, TX_CREATE_STREAM, TX_FCPUBLISH, TX_PUBLISH,
    TX_RELEASE,
};
use crate::amf0::Amf0Value;
use crate::command::Command;
use crate::error::SessionError;
use crate::message::csid;

impl ClientSession {
    pub(super) fn start_connect(&mut self) -> Result<(), SessionError> {
        self.state = State::Connecting;
        self.conn.set_chunk_size(self.config.chunk_size)?;
        let object = Amf0Value::object([
            ("app", self.config.app.as_str().into()),
            ("type", "nonprivate".into()),
            ("flashVer", "FMLE/3.0 (compatible; livecdn)".into()),
            ("tcUrl", self.config.tc_url.as_str().into()),
        ]);
        let connect = Command::new("connect", TX_CONNECT, object, Vec::new());
        self.conn.send(&connect.to_message(csid::COMMAND, 0))?;
        Ok(())
    }

    pub(super) fn handle_command(&mut self, cmd: Command) -> Result<(), SessionError> {
        let info = cmd.args.first();
        let field = |key| {
            let value = info.and_then(|i| i.get(key)).and_then(Amf0Value::as_str);
            value.unwrap_or_default().to_owned()
        };
        let tx = cmd.transaction_id;
        match cmd.name.as_str() {
            "_result" if tx == TX_CONNECT && self.state == State::Connecting => {
                self.events.push_back(ClientEvent::Connected);
                let key: Amf0Value = self.config.stream_name.as_str().into();
                self.conn.send_command(
                    csid::COMMAND,
                    0,
                    "releaseStream",
                    TX_RELEASE,
                    vec![key.clone()],
                )?;
                self.conn
                    .send_command(csid::COMMAND, 0, "FCPublish", TX_FCPUBLISH, vec![key])?;
                self.conn.send_command(
                    csid::COMMAND,
                    0,
                    "createStream",
                    TX_CREATE_STREAM,
                    vec![],
                )?;
                self.state = State::CreatingStream;
            }
            "_result" if tx == TX_CREATE_STREAM && self.state == State::CreatingStream => {
                let id = info.and_then(Amf0Value::as_f64).unwrap_or(1.0);
                self.stream_id = if (1.0..=f64::from(u32::MAX)).contains(&id) {
                    id as u32
                } else {
                    1
                };
                let args = vec![self.config.stream_name.as_str().into(), "live".into()];
                self.conn
                    .send_command(csid::DATA, self.stream_id, "publish", TX_PUBLISH, args)?;
                self.state = State::AwaitPublishStart;
            }
            // releaseStream/FCPublish may fail harmlessly (not every server has them).
            "_error" if tx == TX_RELEASE || tx == TX_FCPUBLISH => {}
            "_error" => self.fail(field("code"), field("description")),
            "onStatus"
                if field("code") == "NetStream.Publish.Start"
                    && self.state == State::AwaitPublishStart =>
            {
                self.state = State::Live;
                self.events.push_back(ClientEvent::PublishStarted);
            }
            "onStatus" if field("level") == "error" => {
                self.fail(field("code"), field("description"))
            }
            _ => {}
        }
        Ok(())
    }

    fn fail(&mut self, code: String, description: String) {
        self.state = State::Closed;
        self.events
            .push_back(ClientEvent::Error { code, description });
    }
}
