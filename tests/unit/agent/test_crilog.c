/* Tests for pkg/agent/crilog.c: CRI log entries (streams, P/F tags, times
 * with and without fractions or offsets, malformed lines) and the
 * rendering of `kubectl logs`: pieces of a line joined, one timestamp per
 * line, since, and the byte limit cutting exactly. */
#include <errno.h>
#include <string.h>

#include "agent/crilog.h"
#include "test.h"

static agent_crilog_entry_t parse(const char *line) {
  agent_crilog_entry_t e;
  memset(&e, 0, sizeof(e));
  if (agent_crilog_parse(line, strlen(line), &e) < 0)
    e.msg = NULL;
  return e;
}

static void test_parse(void) {
  agent_crilog_entry_t e = parse("2016-10-06T00:17:09.669794202Z stdout F log content 1");
  ASSERT_NOT_NULL(e.msg);
  ASSERT_FALSE(e.is_stderr);
  ASSERT_FALSE(e.partial);
  ASSERT_EQ_INT((long long)e.msg_len, 13);
  ASSERT_TRUE(!memcmp(e.msg, "log content 1", 13));
  ASSERT_EQ_INT((long long)e.ts_ns, 1475713029669794202LL);
  e = parse("2016-10-06T00:17:09.669794203Z stderr P part");
  ASSERT_NOT_NULL(e.msg);
  ASSERT_TRUE(e.is_stderr);
  ASSERT_TRUE(e.partial);
  ASSERT_EQ_INT((long long)e.msg_len, 4);
  e = parse("2016-10-06T00:17:09Z stdout F ");
  ASSERT_NOT_NULL(e.msg);
  ASSERT_EQ_INT((long long)e.msg_len, 0);
  e = parse("2016-10-06T00:17:09Z stdout F");
  ASSERT_NOT_NULL(e.msg);
  ASSERT_EQ_INT((long long)e.msg_len, 0);
  /* text keeps its spaces */
  e = parse("2016-10-06T00:17:09Z stdout F  two  spaces ");
  ASSERT_EQ_INT((long long)e.msg_len, 13);
  ASSERT_NULL(parse("garbage").msg);
  ASSERT_NULL(parse("2016-10-06T00:17:09Z stdin F x").msg);
  ASSERT_NULL(parse("2016-10-06T00:17:09Z stdout X x").msg);
  ASSERT_NULL(parse("2016-13-06T00:17:09Z stdout F x").msg);
  ASSERT_NULL(parse("").msg);
}

static void test_time(void) {
  int64_t ns = 0;
  ASSERT_EQ_INT(agent_crilog_time_parse("1970-01-01T00:00:00Z", 20, &ns), 0);
  ASSERT_EQ_INT((long long)ns, 0);
  const char *s = "2026-12-02T07:49:08.5+02:00";
  ASSERT_EQ_INT(agent_crilog_time_parse(s, strlen(s), &ns), 0);
  char out[40];
  agent_crilog_time_format(ns, out, sizeof(out));
  ASSERT_EQ_STR(out, "2026-12-02T05:49:08.500000000Z");
  s = "2000-02-29T23:59:59.000000001Z";
  ASSERT_EQ_INT(agent_crilog_time_parse(s, strlen(s), &ns), 0);
  agent_crilog_time_format(ns, out, sizeof(out));
  ASSERT_EQ_STR(out, s);
  ASSERT_EQ_INT(agent_crilog_time_parse("2026-12-02T05:49:08", 19, &ns), -EINVAL);
  ASSERT_EQ_INT(agent_crilog_time_parse("2026-12-02T05:49:08.Z", 21, &ns), -EINVAL);
  ASSERT_EQ_INT(agent_crilog_time_parse("2026-12-02T05:49:08Zx", 21, &ns), -EINVAL);
}

/* Render lines through a writer into a string. */
static char *render(agent_crilog_writer_t *w, const char *const *lines, int *ret_last) {
  static buf_t b;
  buf_done(&b);
  buf_init(&b, 1 << 16);
  int r = 0;
  for (size_t i = 0; lines[i] && r == 0; i++) {
    agent_crilog_entry_t e;
    if (agent_crilog_parse(lines[i], strlen(lines[i]), &e) == 0)
      r = agent_crilog_writer_put(w, &e, &b);
  }
  *ret_last = r;
  buf_append(&b, "", 0);
  return b.data ? b.data : (char *)"";
}

static const char *const LINES[] = {
    "2026-12-02T05:00:00.1Z stdout F one",
    "2026-12-02T05:00:01Z stdout P tw",
    "2026-12-02T05:00:02Z stdout P o",
    "2026-12-02T05:00:03Z stdout F !",
    "2026-12-02T05:00:04Z stderr F three",
    NULL,
};

static void test_render_joined(void) {
  agent_crilog_writer_t w = {0};
  int last;
  ASSERT_EQ_STR(render(&w, LINES, &last), "one\ntwo!\nthree\n");
  ASSERT_EQ_INT(last, 0);
}

static void test_render_timestamps(void) {
  agent_crilog_writer_t w = {.timestamps = true};
  int last;
  ASSERT_EQ_STR(render(&w, LINES, &last),
                "2026-12-02T05:00:00.100000000Z one\n"
                "2026-12-02T05:00:01.000000000Z two!\n"
                "2026-12-02T05:00:04.000000000Z three\n");
}

static void test_render_since(void) {
  int64_t since;
  ASSERT_EQ_INT(agent_crilog_time_parse("2026-12-02T05:00:02Z", 20, &since), 0);
  agent_crilog_writer_t w = {.since_ns = since};
  int last;
  /* since applies to each entry, as the kubelet's: the pieces of a line
   * from since on are printed */
  ASSERT_EQ_STR(render(&w, LINES, &last), "o!\nthree\n");
  ASSERT_EQ_INT(agent_crilog_time_parse("2026-12-02T05:00:01Z", 20, &since), 0);
  agent_crilog_writer_t w2 = {.since_ns = since};
  ASSERT_EQ_STR(render(&w2, LINES, &last), "two!\nthree\n");
}

static void test_render_limit(void) {
  agent_crilog_writer_t w = {.limit_bytes = 6};
  int last;
  ASSERT_EQ_STR(render(&w, LINES, &last), "one\ntw");
  ASSERT_EQ_INT(last, 1);
  agent_crilog_writer_t w2 = {.limit_bytes = 4};
  ASSERT_EQ_STR(render(&w2, LINES, &last), "one\n");
  ASSERT_EQ_INT(last, 1);
}

TEST_LIST = {
    TEST(test_parse),          TEST(test_time),         TEST(test_render_joined),
    TEST(test_render_timestamps), TEST(test_render_since), TEST(test_render_limit),
    {0},
};

TEST_MAIN()
