// franz-go against a broker (issue 13, item 5): kadm creates a topic, a producer (idempotent,
// acks=all, zstd) sends keyed records with headers, a consumer in a group reads them all and
// commits, kadm fetches the group's offsets and describes it. Prints `OK ...` lines; exits
// non-zero on a failure. Usage: franz-smoke BOOTSTRAP TOPIC
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const count = 200

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	bootstrap, topic := os.Args[1], os.Args[2]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	admin, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fail("client: %v", err)
	}
	adm := kadm.NewClient(admin)
	created, err := adm.CreateTopics(ctx, 3, 1, nil, topic)
	if err != nil || created[topic].Err != nil {
		fail("create: %v %v", err, created[topic].Err)
	}
	listed, err := adm.ListTopics(ctx)
	if err != nil || !listed.Has(topic) {
		fail("list: %v", err)
	}
	fmt.Println("OK created", topic)

	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err != nil {
		fail("producer: %v", err)
	}
	var records []*kgo.Record
	for i := 0; i < count; i++ {
		records = append(records, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)),
			Value: []byte("v" + strconv.Itoa(i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}}})
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		fail("produce: %v", err)
	}
	producer.Close()
	fmt.Println("OK produced", count)

	group := topic + "-group"
	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit())
	if err != nil {
		fail("consumer: %v", err)
	}
	seen := map[string]bool{}
	for len(seen) < count {
		fetches := consumer.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			fail("poll: %v", errs)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			i := string(r.Key[1:])
			if string(r.Value) != "v"+i || len(r.Headers) != 1 || string(r.Headers[0].Value) != i {
				fail("bad record %d/%d", r.Partition, r.Offset)
			}
			seen[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = true
		})
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		fail("commit: %v", err)
	}
	consumer.Close()
	fmt.Println("OK consumed", len(seen))

	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		fail("fetch offsets: %v", err)
	}
	var committed int64
	offsets.Each(func(o kadm.OffsetResponse) { committed += o.At })
	fmt.Println("OK committed", committed)
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil || described[group].Err != nil {
		fail("describe: %v %v", err, described[group].Err)
	}
	fmt.Println("OK described", group, described[group].State)
	if _, err := adm.DeleteTopics(ctx, topic); err != nil {
		fail("delete: %v", err)
	}
	admin.Close()
}
