// KafkaJS against a broker (issue 13, item 5): admin creates a topic, a producer sends keyed
// records with headers (idempotent, acks=all), a consumer in a group reads them all and
// commits, the admin fetches the group's offsets and describes it. Prints `OK ...` lines;
// exits non-zero on a failure. Usage: node smoke.js BOOTSTRAP TOPIC
const { Kafka, logLevel } = require("kafkajs");

const [bootstrap, topic] = process.argv.slice(2);
const COUNT = 200;

async function main() {
  const kafka = new Kafka({ clientId: "kfk-smoke", brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) throw new Error(`not listed: ${topics}`);
  console.log("OK created", topic);

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const sent = new Map();
  for (let start = 0; start < COUNT; start += 50) {
    const messages = [];
    for (let i = start; i < start + 50; i++) {
      messages.push({ key: `k${i}`, value: `v${i}`, headers: { i: `${i}` } });
    }
    const results = await producer.send({ topic, acks: -1, messages });
    for (const r of results) if (r.errorCode !== 0) throw new Error(JSON.stringify(r));
  }
  await producer.disconnect();
  console.log("OK produced", COUNT);

  const groupId = `${topic}-group`;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${seen.size}`)), 60000);
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        const i = message.key.toString().slice(1);
        if (message.value.toString() !== `v${i}` || message.headers.i.toString() !== i) {
          reject(new Error(`bad record ${partition}/${message.offset}`));
        }
        seen.add(`${partition}/${message.offset}`);
        if (seen.size === COUNT) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  // Let the auto-commit of the last batch land, then leave the group.
  await consumer.disconnect();
  console.log("OK consumed", seen.size);

  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = offsets[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0);
  console.log("OK committed", committed);
  const described = await admin.describeGroups([groupId]);
  console.log("OK described", described.groups[0].groupId, described.groups[0].state);
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
