import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;

/**
 * Questions about a local Kafka cluster, for infra/infra.sh (`kafka ...` commands). Run from
 * source (no compile step):
 *
 *   java -cp 'libs/*' ClusterState.java <bootstrap> <timeoutMs> brokers <id>...
 *       waits until every listed node id is a registered, unfenced broker; prints the broker ids
 *   java -cp 'libs/*' ClusterState.java <bootstrap> <timeoutMs> leader <topic> <partition>
 *       waits until the partition has a leader; prints its node id
 *   java -cp 'libs/*' ClusterState.java <bootstrap> <timeoutMs> isr <topic> <partition> <n>
 *       waits until the partition has at least n in-sync replicas; prints them
 *
 * Retries until timeoutMs; prints one line; exit 0 on success, 1 when the deadline passed.
 */
public final class ClusterState {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: ClusterState <bootstrap> <timeoutMs> brokers <id>... | leader <topic> <partition> | isr <topic> <partition> <n>");
            System.exit(2);
        }
        long deadline = System.currentTimeMillis() + Long.parseLong(args[1]);
        String what = args[2];
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "custos-infra-cluster-state");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MS_CONFIG, "1000");
        props.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS_CONFIG, "2000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        props.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "200");
        String last = "no attempt";
        Admin admin = Admin.create(props); // never closed: System.exit ends it
        while (System.currentTimeMillis() < deadline) {
            long step = Math.max(200, Math.min(5000, deadline - System.currentTimeMillis()));
            try {
                switch (what) {
                    case "brokers" -> {
                        Set<Integer> ids = new TreeSet<>();
                        for (Node n : admin.describeCluster().nodes().get(step, TimeUnit.MILLISECONDS)) ids.add(n.id());
                        boolean all = true;
                        for (int i = 3; i < args.length; i++) all &= ids.contains(Integer.parseInt(args[i]));
                        last = "brokers " + ids;
                        if (all) {
                            System.out.println(last);
                            System.exit(0);
                        }
                    }
                    case "leader", "isr" -> {
                        String topic = args[3];
                        int partition = Integer.parseInt(args[4]);
                        Map<String, TopicDescription> d = admin.describeTopics(List.of(topic)).allTopicNames().get(step, TimeUnit.MILLISECONDS);
                        TopicPartitionInfo p = d.get(topic).partitions().get(partition);
                        if ("leader".equals(what)) {
                            Node leader = p.leader();
                            last = "no leader for " + topic + "-" + partition;
                            if (leader != null && !leader.isEmpty()) {
                                System.out.println(leader.id());
                                System.exit(0);
                            }
                        } else {
                            int want = Integer.parseInt(args[5]);
                            Set<Integer> isr = new TreeSet<>();
                            for (Node n : p.isr()) isr.add(n.id());
                            last = "isr " + isr;
                            if (isr.size() >= want) {
                                System.out.println(last);
                                System.exit(0);
                            }
                        }
                    }
                    default -> {
                        System.err.println("unknown question: " + what);
                        System.exit(2);
                    }
                }
            } catch (Exception e) {
                Throwable c = e.getCause() != null ? e.getCause() : e;
                last = c.getClass().getSimpleName() + ": " + c.getMessage();
            }
            Thread.sleep(200);
        }
        System.out.println(last);
        System.exit(1);
    }
}
