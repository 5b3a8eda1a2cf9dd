'use strict';
// The plain broadcast server tools/bench/chat_fanout.sh compares the chat relay with: every
// text message from any client goes to every client of the server, as is (no rooms, tokens,
// sequencing or storage). It greets each connection with {"type":"welcome"} so the generator
// checks every client the same way on both servers.
//   node server.js PORT   (listens on 127.0.0.1)
const { WebSocket, WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8092);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  backlog: 1024,
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
});

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.send('{"type":"welcome"}');
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
    }
  });
});
wss.on('listening', () => console.log(`ws-peer listening on 127.0.0.1:${port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
