//! Command messages (spec 7.1.1, 7.2): name, transaction id, object, args.

use bytes::Bytes;

use crate::amf0::{self, Amf0Value};
use crate::chunk::Message;
use crate::error::SessionError;
use crate::message::type_id;

/// A decoded AMF0 command such as `connect` or `publish`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Procedure name (`connect`, `createStream`, `_result`, `onStatus`, ...).
    pub name: String,
    /// Transaction id: replies carry the request's id; 0 means "no reply wanted".
    pub transaction_id: f64,
    /// Command object (often null).
    pub object: Amf0Value,
    /// Remaining arguments.
    pub args: Vec<Amf0Value>,
}

impl Command {
    /// Build a command.
    pub fn new(name: &str, transaction_id: f64, object: Amf0Value, args: Vec<Amf0Value>) -> Self {
        Self {
            name: name.to_owned(),
            transaction_id,
            object,
            args,
        }
    }

    /// Parse a command message body (type 20, or 17 whose AMF0 body follows a
    /// format byte).
    pub fn parse(message_type: u8, body: &[u8]) -> Result<Self, SessionError> {
        let mut values = amf_values(message_type, body)?.into_iter();
        let Some(Amf0Value::String(name)) = values.next() else {
            return Err(SessionError::MalformedCommand);
        };
        // Some clients omit the id or the object on notifications.
        let transaction_id = values.next().and_then(|v| v.as_f64()).unwrap_or(0.0);
        let object = values.next().unwrap_or(Amf0Value::Null);
        Ok(Self {
            name,
            transaction_id,
            object,
            args: values.collect(),
        })
    }

    /// The `index`-th argument as a string.
    pub fn arg_str(&self, index: usize) -> Option<&str> {
        self.args.get(index).and_then(Amf0Value::as_str)
    }

    /// Encode as an AMF0 command message.
    pub fn to_message(&self, csid: u32, stream_id: u32) -> Message {
        let mut values = Vec::with_capacity(3 + self.args.len());
        values.push(Amf0Value::String(self.name.clone()));
        values.push(Amf0Value::Number(self.transaction_id));
        values.push(self.object.clone());
        values.extend(self.args.iter().cloned());
        Message {
            csid,
            timestamp: 0,
            type_id: type_id::COMMAND_AMF0,
            stream_id,
            payload: Bytes::from(Amf0Value::encode_all(&values)),
        }
    }
}

/// Decode the AMF0 values of a command or data message. AMF3-typed messages
/// (15, 17) from AMF0 clients carry a leading format byte 0 and then AMF0.
pub fn amf_values(message_type: u8, body: &[u8]) -> Result<Vec<Amf0Value>, SessionError> {
    let body = match (message_type, body.split_first()) {
        (type_id::COMMAND_AMF3 | type_id::DATA_AMF3, Some((0, rest))) => rest,
        _ => body,
    };
    Ok(amf0::decode_all(body)?)
}

/// A NetConnection/NetStream status object (`level`, `code`, `description`).
pub fn status(level: &str, code: &str, description: &str) -> Amf0Value {
    Amf0Value::object([
        ("level", level.into()),
        ("code", code.into()),
        ("description", description.into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_roundtrip_and_amf3_prefix() {
        let cmd = Command::new(
            "publish",
            5.0,
            Amf0Value::Null,
            vec!["key".into(), "live".into()],
        );
        let msg = cmd.to_message(3, 1);
        assert_eq!(Command::parse(msg.type_id, &msg.payload).unwrap(), cmd);
        let mut amf3 = vec![0u8];
        amf3.extend_from_slice(&msg.payload);
        assert_eq!(Command::parse(type_id::COMMAND_AMF3, &amf3).unwrap(), cmd);
        assert_eq!(cmd.arg_str(0), Some("key"));
    }

    #[test]
    fn nameless_commands_are_refused() {
        let body = Amf0Value::encode_all(&[Amf0Value::Number(1.0)]);
        assert_eq!(
            Command::parse(type_id::COMMAND_AMF0, &body).unwrap_err(),
            SessionError::MalformedCommand
        );
        assert_eq!(
            Command::parse(type_id::COMMAND_AMF0, &[])
                .unwrap_err()
                .reason(),
            "bad_command"
        );
    }
}
