// Writes the deliver_sm fixtures of comptoir/providers/smpp/fixtures/ with node-smpp's
// encoder (not the adapter's), in the shapes SMSCs send: customers' texts (GSM-7, UCS-2,
// three parts by UDH, two parts by SAR) and delivery receipts (with and without TLVs).
//   node tests/smpp_server/make_fixtures.js
"use strict";

const fs = require("fs");
const path = require("path");
const smpp = require("smpp");

const out = path.join(__dirname, "..", "..", "comptoir", "providers", "smpp", "fixtures");
const gsm = (text) => smpp.encodings.ASCII.encode(text);
const ucs2 = (text) => smpp.encodings.UCS2.encode(text);
const customer = { source_addr: "33612345678", source_addr_ton: 1, source_addr_npi: 1 };
const shop = { destination_addr: "33639980001", dest_addr_ton: 1, dest_addr_npi: 1 };
let sequence = 1000;

// One PDU per line: a long text's parts share a file, in the order the SMSC sends them.
function write(name, ...pdus) {
  const lines = pdus.map((options) =>
    new smpp.PDU("deliver_sm", { sequence_number: ++sequence, ...options }).toBuffer().toString("hex"));
  fs.writeFileSync(path.join(out, name), lines.join("\n") + "\n");
}

const udh = (ref, total, n) => Buffer.from([5, 0, 3, ref, total, n]);
const long = [
  "Bonjour, je voulais savoir si mes lunettes sont prêtes. J'ai déposé l'ordonnance ",
  "mardi dernier et on m'avait dit une semaine. Je peux passer samedi matin vers 10h ",
  "si c'est bon. Merci beaucoup et bonne journée à toute l'équipe !",
];

write("mo_gsm7.hex", { ...customer, ...shop, data_coding: 0,
  short_message: gsm("Oui, je passe demain à 10h. Merci !") });
write("mo_ucs2.hex", { ...customer, ...shop, data_coding: 8,
  short_message: ucs2("Merci ! 😊 À demain") });
write("mo_udh_3_parts.hex", ...long.map((part, i) => ({ ...customer, ...shop,
  esm_class: 0x40, data_coding: 8, short_message: Buffer.concat([udh(0x42, 3, i + 1), ucs2(part)]) })));
write("mo_sar_2_parts.hex", ...["Je confirme le rendez-vous de jeudi a 15h, ", "avec ma fille. A jeudi !"]
  .map((part, i) => ({ ...customer, ...shop, data_coding: 0, short_message: gsm(part),
    sar_msg_ref_num: 0x1234, sar_total_segments: 2, sar_segment_seqnum: i + 1 })));
write("receipt_delivered.hex", { source_addr: "33612345678", destination_addr: "Optique",
  esm_class: 0x04, data_coding: 0, receipted_message_id: "0a1b2c3d", message_state: 2,
  short_message: Buffer.from("id:0a1b2c3d sub:001 dlvrd:001 submit date:2611231405 " +
    "done date:2611231406 stat:DELIVRD err:000 text:Votre commande est", "ascii") });
write("receipt_undeliverable.hex", { source_addr: "33612345678", destination_addr: "Optique",
  esm_class: 0x04, data_coding: 0,
  short_message: Buffer.from("id:7f00e1 sub:001 dlvrd:000 submit date:2611231405 " +
    "done date:2611231410 stat:UNDELIV err:001 text:Votre commande est", "ascii") });
// A UDH whose length runs past the message: the adapter must refuse it, precisely.
write("mo_bad_udh.hex", { ...customer, ...shop, esm_class: 0x40, data_coding: 0,
  short_message: Buffer.from([0x20, 0x00, 0x03, 0x01]) });
