/* The kubelet's choice of WebSocket upgrades it relays to containerd's
 * streaming server (pkg/agent/kubeletstream.c): kubectl 1.32's offers are
 * refused (it falls back to SPDY), the python client's v4 is relayed. */
#include "agent/kubeletstream.h"
#include "test.h"

static void test_exec_protocols(void) {
  ASSERT_FALSE(agent__kubelet_stream_ws_ok("v5.channel.k8s.io", false)); /* kubectl 1.32 */
  ASSERT_TRUE(agent__kubelet_stream_ws_ok("v4.channel.k8s.io", false));  /* python client */
  ASSERT_TRUE(agent__kubelet_stream_ws_ok("v5.channel.k8s.io, v4.channel.k8s.io", false));
  ASSERT_TRUE(agent__kubelet_stream_ws_ok("base64.channel.k8s.io", false));
  ASSERT_TRUE(agent__kubelet_stream_ws_ok(NULL, false)); /* no subprotocol at all */
  ASSERT_FALSE(agent__kubelet_stream_ws_ok("chat", false));
}

static void test_port_forward_protocols(void) {
  /* kubectl's SPDY-in-WebSocket tunnel is not served by containerd 1.6 */
  ASSERT_FALSE(agent__kubelet_stream_ws_ok("SPDY/3.1+portforward.k8s.io", true));
  ASSERT_TRUE(agent__kubelet_stream_ws_ok("v4.channel.k8s.io", true));
  ASSERT_FALSE(agent__kubelet_stream_ws_ok("channel.k8s.io", true)); /* exec-only framing */
}

TEST_LIST = {
    TEST(test_exec_protocols),
    TEST(test_port_forward_protocols),
    {0},
};
TEST_MAIN()
