// A loopback SMSC for Comptoir's SMPP adapter tests, on node-smpp (npm "smpp"): an SMPP
// implementation independent of the adapter's own codec.
//
//   node smsc.js --system-id ID --password PW [--port 0] [--control-port 0]
//
// Prints one JSON line {"smpp": port, "control": port} once listening. The control port
// speaks HTTP + JSON:
//   GET  /stats                  counters
//   GET  /submits?from=N         submit_sm received, as decoded by node-smpp
//   GET  /binds                  bind attempts
//   POST /behave {...}           merge into the behaviour (see DEFAULTS)
//   POST /reset                  behaviour to defaults, records emptied
//   POST /deliver {pdus:[...]}   deliver_sm to the last bound session; answers their resps
//         each pdu: {hex: "<a whole PDU, sequence number replaced>"} or
//                   {source_addr, destination_addr, esm_class, data_coding, message_hex,
//                    tlvs: {name: hex | int}}
//   POST /garbage {hex}          raw bytes to every bound session
//   POST /drop                   close every session (the SMSC goes away)
"use strict";

const http = require("http");
const smpp = require("smpp");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
}
const SYSTEM_ID = args["system-id"] || "comptoir";
const PASSWORD = args["password"] || "secret";
const PREFIX = Math.floor(Math.random() * 0xffff).toString(16).padStart(4, "0");

const DEFAULTS = {
  mode: "accept", // accept | reject | silent | throttle (ESME_RTHROTTLED) | queue_full
  status: "ESME_RINVDSTADR", // for reject
  answer_first: 0, // silent: answer this many submits first
  throttle_rate: 0, // accept at most this many submit_sm per second, ESME_RTHROTTLED beyond
  bind: "check", // check (system_id + password) | fail (ESME_RBINDFAIL)
  receipts: null, // {stat: "DELIVRD", err: "000", delay_ms: 0, tlv: true}
  idle_timeout_ms: 0, // close a session that sent nothing for this long (0: never)
  record_text: true,
};
let behaviour = { ...DEFAULTS };
let records;
function reset() {
  records = {
    binds: [],
    submits: [],
    enquire_links: 0,
    accepted: 0,
    throttled: 0,
    rejected: 0,
    unanswered: 0,
    idle_closes: 0,
    deliver_resps: [],
  };
}
reset();
let counter = 0;
let windowStart = 0;
let windowCount = 0;
const bound = [];

function hex(buffer) {
  return Buffer.isBuffer(buffer) ? buffer.toString("hex") : null;
}

function udhList(udh) {
  return (udh || []).map((element) => hex(Buffer.from(element)));
}

function record(session, pdu, outcome, messageId) {
  const sm = pdu.short_message || {};
  const entry = {
    session: session.id,
    source_addr: pdu.source_addr,
    source_addr_ton: pdu.source_addr_ton,
    source_addr_npi: pdu.source_addr_npi,
    destination_addr: pdu.destination_addr,
    dest_addr_ton: pdu.dest_addr_ton,
    dest_addr_npi: pdu.dest_addr_npi,
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    outcome,
    message_id: messageId || null,
    at: Date.now() / 1000,
  };
  if (behaviour.record_text) {
    entry.text = typeof sm.message === "string" ? sm.message : hex(sm.message);
    entry.udh = udhList(sm.udh);
    entry.sar = pdu.sar_msg_ref_num === undefined ? null : {
      ref: pdu.sar_msg_ref_num,
      total: pdu.sar_total_segments,
      seq: pdu.sar_segment_seqnum,
    };
  }
  records.submits.push(entry);
}

function throttled() {
  if (!behaviour.throttle_rate) return false;
  const now = Date.now();
  if (now - windowStart >= 1000) {
    windowStart = now;
    windowCount = 0;
  }
  windowCount += 1;
  return windowCount > behaviour.throttle_rate;
}

function receiptFor(session, pdu, messageId) {
  const r = behaviour.receipts;
  if (!r || !(pdu.registered_delivery & 1)) return;
  const stat = r.stat || "DELIVRD";
  const states = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8, ENROUTE: 1 };
  const text = `id:${messageId} sub:001 dlvrd:${stat === "DELIVRD" ? "001" : "000"} ` +
    `submit date:2611232300 done date:2611232301 stat:${stat} err:${r.err || "000"} text:`;
  const options = {
    source_addr: pdu.destination_addr,
    destination_addr: pdu.source_addr,
    esm_class: 0x04,
    short_message: Buffer.from(text, "ascii"),
  };
  if (r.tlv !== false) {
    options.receipted_message_id = messageId;
    options.message_state = states[stat];
  }
  const send = () => session.deliver_sm(options, (resp) => {
    records.deliver_resps.push({ kind: "receipt", status: resp.command_status });
  });
  if (r.delay_ms) setTimeout(send, r.delay_ms);
  else send();
}

function onSubmit(session, pdu) {
  if (behaviour.mode === "silent" && records.submits.length >= behaviour.answer_first) {
    records.unanswered += 1;
    record(session, pdu, "unanswered");
    return;
  }
  if (behaviour.mode === "throttle" || behaviour.mode === "queue_full" || throttled()) {
    const status = behaviour.mode === "queue_full" ? smpp.ESME_RMSGQFUL : smpp.ESME_RTHROTTLED;
    records.throttled += 1;
    record(session, pdu, "throttled");
    session.send(pdu.response({ command_status: status }));
    return;
  }
  if (behaviour.mode === "reject") {
    records.rejected += 1;
    record(session, pdu, "rejected");
    session.send(pdu.response({ command_status: smpp[behaviour.status] }));
    return;
  }
  counter += 1;
  const messageId = `${PREFIX}${counter.toString(16).padStart(8, "0")}`;
  records.accepted += 1;
  record(session, pdu, "accepted", messageId);
  session.send(pdu.response({ message_id: messageId }));
  receiptFor(session, pdu, messageId);
}

let sessions = 0;
const server = smpp.createServer((session) => {
  session.id = ++sessions;
  let lastSeen = Date.now();
  const idle = setInterval(() => {
    if (behaviour.idle_timeout_ms && Date.now() - lastSeen > behaviour.idle_timeout_ms) {
      records.idle_closes += 1;
      session.destroy();
    }
  }, 50);
  session.on("pdu", () => { lastSeen = Date.now(); });
  session.on("close", () => {
    clearInterval(idle);
    const i = bound.indexOf(session);
    if (i >= 0) bound.splice(i, 1);
  });
  session.on("error", () => { /* garbage or a reset: the socket closes */ });
  session.on("bind_transceiver", (pdu) => {
    let status = 0;
    if (behaviour.bind === "fail") status = smpp.ESME_RBINDFAIL;
    else if (pdu.system_id !== SYSTEM_ID) status = smpp.ESME_RINVSYSID;
    else if (pdu.password !== PASSWORD) status = smpp.ESME_RINVPASWD;
    records.binds.push({
      session: session.id,
      system_id: pdu.system_id,
      system_type: pdu.system_type,
      interface_version: pdu.interface_version,
      status,
      at: Date.now() / 1000,
    });
    if (status) {
      session.send(pdu.response({ command_status: status }), () => session.close());
      return;
    }
    session.send(pdu.response({ system_id: "TESTSMSC" }));
    bound.push(session);
  });
  session.on("submit_sm", (pdu) => onSubmit(session, pdu));
  session.on("enquire_link", (pdu) => {
    records.enquire_links += 1;
    session.send(pdu.response());
  });
  session.on("unbind", (pdu) => {
    session.send(pdu.response(), () => session.close());
  });
});

function deliverOne(session, spec) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ status: null, timeout: true }), 15000);
    const done = (resp) => {
      clearTimeout(timer);
      resolve({ status: resp.command_status });
    };
    if (spec.hex) {
      // A captured PDU, byte for byte, with this session's next sequence number.
      const raw = Buffer.from(spec.hex, "hex");
      const sequence = ++session.sequence;
      raw.writeUInt32BE(sequence, 12);
      session._callbacks[sequence] = done;
      session.socket.write(raw);
      return;
    }
    const options = {
      source_addr: spec.source_addr,
      destination_addr: spec.destination_addr,
      esm_class: spec.esm_class || 0,
      data_coding: spec.data_coding || 0,
      short_message: Buffer.from(spec.message_hex || "", "hex"),
    };
    for (const [name, value] of Object.entries(spec.tlvs || {})) {
      options[name] = typeof value === "string" ? Buffer.from(value, "hex") : value;
    }
    session.deliver_sm(options, done);
  });
}

function body(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(chunks.length ? JSON.parse(Buffer.concat(chunks)) : {}));
  });
}

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  const reply = (code, value) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  try {
    if (req.method === "GET" && url.pathname === "/stats") {
      const { binds, submits, deliver_resps, ...counts } = records;
      return reply(200, {
        ...counts,
        binds: binds.length,
        submits: submits.length,
        deliver_resps: deliver_resps.length,
        bound: bound.length,
      });
    }
    if (req.method === "GET" && url.pathname === "/submits") {
      return reply(200, records.submits.slice(Number(url.searchParams.get("from") || 0)));
    }
    if (req.method === "GET" && url.pathname === "/binds") return reply(200, records.binds);
    if (req.method === "GET" && url.pathname === "/deliver_resps") {
      return reply(200, records.deliver_resps);
    }
    if (req.method !== "POST") return reply(404, { error: "unknown" });
    const data = await body(req);
    if (url.pathname === "/behave") {
      behaviour = { ...behaviour, ...data };
      return reply(200, behaviour);
    }
    if (url.pathname === "/reset") {
      behaviour = { ...DEFAULTS };
      reset();
      return reply(200, behaviour);
    }
    if (url.pathname === "/deliver") {
      const session = bound[bound.length - 1];
      if (!session) return reply(409, { error: "no bound session" });
      const answers = await Promise.all((data.pdus || []).map((p) => deliverOne(session, p)));
      answers.forEach((a) => records.deliver_resps.push({ kind: "mo", status: a.status }));
      return reply(200, answers);
    }
    if (url.pathname === "/garbage") {
      bound.forEach((s) => s.socket.write(Buffer.from(data.hex, "hex")));
      return reply(200, { sessions: bound.length });
    }
    if (url.pathname === "/drop") {
      const count = bound.length;
      bound.slice().forEach((s) => s.destroy());
      return reply(200, { sessions: count });
    }
    return reply(404, { error: "unknown" });
  } catch (err) {
    return reply(500, { error: String(err) });
  }
});

server.listen(Number(args.port || 0), "127.0.0.1", () => {
  control.listen(Number(args["control-port"] || 0), "127.0.0.1", () => {
    process.stdout.write(
      JSON.stringify({ smpp: server.address().port, control: control.address().port }) + "\n"
    );
  });
});
