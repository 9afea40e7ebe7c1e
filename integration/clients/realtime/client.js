// Subscribes with a real EventSource and prints each event as one JSON
// line: node client.js URL COUNT [BEARER_TOKEN]. Exits after COUNT events.
const EventSource = require("eventsource");

const [url, count, tok] = process.argv.slice(2);
const headers = tok ? { Authorization: "Bearer " + tok } : {};
const es = new EventSource(url, { headers });
let seen = 0;
const print = (e) => {
  console.log(JSON.stringify({ type: e.type, id: e.lastEventId, data: e.data }));
  if (++seen >= Number(count)) {
    es.close();
    process.exit(0);
  }
};
es.onopen = () => console.log(JSON.stringify({ type: "open" }));
for (const t of ["insert", "update", "delete", "reset"]) es.addEventListener(t, print);
es.addEventListener("error", (e) => {
  if (e.data) print(e);
});
setTimeout(() => {
  console.error("timeout");
  process.exit(2);
}, 30000);
