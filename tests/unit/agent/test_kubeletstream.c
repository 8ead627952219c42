/* The kubelet's choice of WebSocket upgrades it relays to containerd's
 * streaming server (pkg/agent/kubeletstream.c): the python client's v4 is
 * relayed as it is, kubectl 1.32's v5 is relayed as v4 for an exec
 * without stdin (whose close v4 cannot carry) and refused otherwise
 * (kubectl then falls back to SPDY), as is its port-forward tunnel. */
#include "agent/kubeletstream.h"
#include "test.h"

#define CHOICE agent__kubelet_stream_ws_choice
#define EXEC AGENT_STREAM_EXEC
#define ATTACH AGENT_STREAM_ATTACH
#define PF AGENT_STREAM_PORTFORWARD

static void test_exec_protocols(void) {
  ASSERT_EQ_INT(CHOICE("v4.channel.k8s.io", EXEC, false), AGENT_WS_RELAY); /* python client */
  ASSERT_EQ_INT(CHOICE("v4.channel.k8s.io", EXEC, true), AGENT_WS_RELAY);
  ASSERT_EQ_INT(CHOICE("v5.channel.k8s.io, v4.channel.k8s.io", EXEC, true), AGENT_WS_RELAY);
  ASSERT_EQ_INT(CHOICE("base64.channel.k8s.io", EXEC, false), AGENT_WS_RELAY);
  ASSERT_EQ_INT(CHOICE(NULL, EXEC, false), AGENT_WS_RELAY); /* no subprotocol at all */
  ASSERT_EQ_INT(CHOICE("chat", EXEC, false), AGENT_WS_REFUSE);
  ASSERT_EQ_INT(CHOICE("chat", EXEC, true), AGENT_WS_REFUSE);
}

static void test_exec_v5(void) {
  /* kubectl 1.32 offers v5 alone */
  ASSERT_EQ_INT(CHOICE("v5.channel.k8s.io", EXEC, false), AGENT_WS_V5_AS_V4);
  ASSERT_EQ_INT(CHOICE("chat, v5.channel.k8s.io", EXEC, false), AGENT_WS_V5_AS_V4);
  /* exec -i: the end of stdin needs v5's close, which v4 lacks */
  ASSERT_EQ_INT(CHOICE("v5.channel.k8s.io", EXEC, true), AGENT_WS_REFUSE);
  /* attach: containerd's WebSocket attach without stdin loses the output
   * of a container with stdin open, so SPDY */
  ASSERT_EQ_INT(CHOICE("v5.channel.k8s.io", ATTACH, false), AGENT_WS_REFUSE);
  ASSERT_EQ_INT(CHOICE("v4.channel.k8s.io", ATTACH, false), AGENT_WS_RELAY);
  /* a whole value only */
  ASSERT_EQ_INT(CHOICE("v5.channel.k8s.io.x", EXEC, false), AGENT_WS_REFUSE);
}

static void test_port_forward_protocols(void) {
  /* kubectl's SPDY-in-WebSocket tunnel is not served by containerd 1.6 */
  ASSERT_EQ_INT(CHOICE("SPDY/3.1+portforward.k8s.io", PF, false), AGENT_WS_REFUSE);
  ASSERT_EQ_INT(CHOICE("v4.channel.k8s.io", PF, false), AGENT_WS_RELAY);
  ASSERT_EQ_INT(CHOICE("channel.k8s.io", PF, false), AGENT_WS_REFUSE); /* exec-only framing */
  ASSERT_EQ_INT(CHOICE("v5.channel.k8s.io", PF, false), AGENT_WS_REFUSE);
}

TEST_LIST = {
    TEST(test_exec_protocols),
    TEST(test_exec_v5),
    TEST(test_port_forward_protocols),
    {0},
};
TEST_MAIN()
