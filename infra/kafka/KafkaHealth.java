import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;

/**
 * Health probe for the local single-node broker, used by infra/infra.sh.
 * Only uses the public kafka-clients Admin API, so it works on Kafka 3.x and 4.x.
 *
 *   java -cp 'libs/*:health' KafkaHealth <bootstrap> <timeoutMs> [--warm]
 *
 * Healthy = the broker answers Metadata (describeCluster, listTopics) with at
 * least one unfenced broker and an active controller. With --warm it also
 * makes the group and transaction coordinators ready (FindCoordinator creates
 * __consumer_offsets / __transaction_state on first use) and does one
 * InitProducerId (initTransactions), so the first exactly-once client does
 * not have to ride out "coordinator loading" retries.
 * Retries until timeoutMs; prints one line; exit 0 healthy, 1 not.
 */
public final class KafkaHealth {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: KafkaHealth <bootstrap> <timeoutMs> [--warm]");
            System.exit(2);
        }
        String bootstrap = args[0];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[1]);
        boolean warm = args.length > 2 && "--warm".equals(args[2]);

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "custos-infra-health");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MS_CONFIG, "1000");
        props.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS_CONFIG, "2000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        props.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "200");

        String last = "no attempt";
        Admin admin = Admin.create(props); // never closed: System.exit ends it without waiting for in-flight calls
        {
            boolean clusterOk = false;
            String summary = "";
            while (System.currentTimeMillis() < deadline) {
                long step = Math.max(200, Math.min(5000, deadline - System.currentTimeMillis()));
                try {
                    if (!clusterOk) {
                        DescribeClusterResult cluster = admin.describeCluster();
                        String clusterId = cluster.clusterId().get(step, TimeUnit.MILLISECONDS);
                        List<Node> nodes = List.copyOf(cluster.nodes().get(step, TimeUnit.MILLISECONDS));
                        Node controller = cluster.controller().get(step, TimeUnit.MILLISECONDS);
                        if (nodes.isEmpty()) throw new IllegalStateException("no unfenced broker yet");
                        if (controller == null || controller.isEmpty()) throw new IllegalStateException("no controller yet");
                        Set<String> topics = admin.listTopics().names().get(step, TimeUnit.MILLISECONDS);
                        summary = "cluster " + clusterId + ", " + nodes.size() + " broker(s), " + topics.size() + " topic(s)";
                        clusterOk = true;
                    }
                    if (warm) {
                        try {
                            admin.describeConsumerGroups(List.of("custos-infra-health")).all().get(step, TimeUnit.MILLISECONDS);
                        } catch (ExecutionException e) {
                            if (!(e.getCause() instanceof GroupIdNotFoundException)) throw e;
                        }
                        try {
                            admin.describeTransactions(List.of("custos-infra-health")).all().get(step, TimeUnit.MILLISECONDS);
                        } catch (ExecutionException e) {
                            if (!(e.getCause() instanceof TransactionalIdNotFoundException)) throw e;
                        }
                        // InitProducerId: the broker fetches its first producer-id block from
                        // the controller; until then clients get COORDINATOR_LOAD_IN_PROGRESS.
                        Properties pp = new Properties();
                        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                        pp.put(ProducerConfig.CLIENT_ID_CONFIG, "custos-infra-health");
                        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "custos-infra-health");
                        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(step));
                        pp.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "10000");
                        KafkaProducer<byte[], byte[]> producer =
                            new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer());
                        try {
                            producer.initTransactions();
                        } finally {
                            producer.close(java.time.Duration.ZERO);
                        }
                        summary += ", group+transaction coordinators ready";
                    }
                    System.out.println("healthy: " + summary);
                    System.exit(0);
                } catch (Exception e) {
                    Throwable c = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                    last = c.getClass().getSimpleName() + ": " + c.getMessage();
                    if (c instanceof java.util.concurrent.TimeoutException) last = "no answer within " + step + " ms (is the broker up?)";
                    Thread.sleep(300);
                }
            }
        }
        System.out.println("unhealthy: " + last);
        System.exit(1);
    }
}
