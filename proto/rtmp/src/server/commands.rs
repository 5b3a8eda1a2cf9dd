//! NetConnection / NetStream commands a publisher sends (spec 7.2).

use super::{Event, MAX_STREAMS, Publish, ServerSession};
use crate::amf0::Amf0Value;
use crate::chunk::Message;
use crate::command::{Command, status};
use crate::error::SessionError;
use crate::message::{self, LimitType, UserControl, csid};

impl ServerSession {
    pub(super) fn handle_command(&mut self, msg: &Message) -> Result<(), SessionError> {
        let cmd = Command::parse(msg.type_id, &msg.payload)?;
        let tx = cmd.transaction_id;
        match cmd.name.as_str() {
            "connect" => self.on_connect(&cmd),
            // Nothing to release: keys are unique per live publish anyway.
            "releaseStream" => self.reply(tx, vec![Amf0Value::Undefined]),
            "FCPublish" => {
                let name = cmd.arg_str(0).unwrap_or_default();
                let info = status("status", "NetStream.Publish.Start", name);
                self.conn
                    .send_command(csid::COMMAND, 0, "onFCPublish", 0.0, vec![info])?;
                Ok(())
            }
            "createStream" => self.on_create_stream(tx),
            "publish" => self.on_publish(&cmd, msg.stream_id),
            "FCUnpublish" => {
                let name = cmd.arg_str(0).unwrap_or_default();
                let info = status("status", "NetStream.Unpublish.Success", name);
                self.conn
                    .send_command(csid::COMMAND, 0, "onFCUnpublish", 0.0, vec![info])?;
                self.end_publish();
                Ok(())
            }
            "deleteStream" | "closeStream" => {
                // deleteStream names the stream in its argument, closeStream
                // travels on it; either way a publisher has only one.
                let id = cmd.args.first().and_then(Amf0Value::as_f64);
                if let Some(id) = id.filter(|id| (0.0..=f64::from(u32::MAX)).contains(id)) {
                    self.streams.remove(&(id as u32));
                }
                self.end_publish();
                Ok(())
            }
            // Bandwidth check and stream length are player-side niceties.
            "_checkbw" => self.reply(tx, vec![Amf0Value::Undefined]),
            // Replies to our own (nonexistent) calls, or notifications.
            "_result" | "_error" | "onStatus" => Ok(()),
            _ if tx == 0.0 => Ok(()),
            _ => {
                let info = status("error", "NetConnection.Call.Failed", "unsupported command");
                self.conn
                    .send_command(csid::COMMAND, 0, "_error", tx, vec![info])?;
                Ok(())
            }
        }
    }

    fn reply(&mut self, tx: f64, args: Vec<Amf0Value>) -> Result<(), SessionError> {
        if tx != 0.0 {
            self.conn
                .send_command(csid::COMMAND, 0, "_result", tx, args)?;
        }
        Ok(())
    }

    fn on_connect(&mut self, cmd: &Command) -> Result<(), SessionError> {
        if self.app.is_some() {
            return Err(SessionError::Protocol("second connect"));
        }
        let obj = &cmd.object;
        // Some clients send `live/`; the trailing slash carries no meaning.
        let app = obj
            .get("app")
            .and_then(Amf0Value::as_str)
            .unwrap_or_default();
        let app = app.trim_end_matches('/').to_owned();
        let tc_url = obj
            .get("tcUrl")
            .and_then(Amf0Value::as_str)
            .map(str::to_owned);
        self.app = Some(app.clone());

        self.conn
            .send_window_ack_size(self.config.window_ack_size)?;
        let bw = message::set_peer_bandwidth(self.config.peer_bandwidth, LimitType::Dynamic);
        self.conn.send(&bw)?;
        self.conn.set_chunk_size(self.config.chunk_size)?;
        let properties = Amf0Value::object([
            ("fmsVer", "FMS/3,0,1,123".into()),
            ("capabilities", 31.0.into()),
        ]);
        let mut info = status(
            "status",
            "NetConnection.Connect.Success",
            "Connection succeeded.",
        );
        if let Amf0Value::Object(props) = &mut info {
            props.push(("objectEncoding".to_owned(), 0.0.into()));
        }
        let result = Command::new("_result", cmd.transaction_id, properties, vec![info]);
        self.conn.send(&result.to_message(csid::COMMAND, 0))?;
        self.events.push_back(Event::Connected { app, tc_url });
        Ok(())
    }

    fn on_create_stream(&mut self, tx: f64) -> Result<(), SessionError> {
        if self.app.is_none() {
            return Err(SessionError::Protocol("createStream before connect"));
        }
        if self.streams.len() >= MAX_STREAMS {
            return Err(SessionError::TooManyStreams);
        }
        let id = self.next_stream_id;
        self.next_stream_id = self.next_stream_id.wrapping_add(1).max(1);
        self.streams.insert(id);
        self.reply(tx, vec![Amf0Value::Number(f64::from(id))])
    }

    fn on_publish(&mut self, cmd: &Command, stream_id: u32) -> Result<(), SessionError> {
        let Some(app) = self.app.clone() else {
            return Err(SessionError::Protocol("publish before connect"));
        };
        if self.publish != Publish::Idle {
            return Err(SessionError::Protocol("publish while publishing"));
        }
        let stream_name = cmd.arg_str(0).unwrap_or_default().to_owned();
        // `key?token=...` is common (auth in the URL); the key is what routes.
        let stream_key = stream_name.split('?').next().unwrap_or_default().to_owned();
        let publish_type = cmd.arg_str(1).unwrap_or("live").to_owned();
        self.publish = Publish::Pending {
            stream_id,
            name: stream_name.clone(),
        };
        self.events.push_back(Event::PublishRequested {
            app,
            stream_key,
            stream_name,
            publish_type,
            stream_id,
        });
        Ok(())
    }

    pub(super) fn send_stream_begin(&mut self, stream_id: u32) -> Result<(), SessionError> {
        self.conn
            .send(&UserControl::StreamBegin(stream_id).to_message())?;
        Ok(())
    }

    pub(super) fn send_status(
        &mut self,
        stream_id: u32,
        level: &str,
        code: &str,
        description: &str,
    ) -> Result<(), SessionError> {
        let info = status(level, code, description);
        self.conn
            .send_command(csid::DATA, stream_id, "onStatus", 0.0, vec![info])?;
        Ok(())
    }
}
