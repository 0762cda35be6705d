import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * Deletes topics and waits until the broker no longer lists them; used by infra/infra.sh to wipe a
 * schema registry's KafkaSQL journal ("registry down --wipe"). Run from source (no compile step,
 * so nothing in the cache goes stale when this file changes):
 *
 *   java -cp 'libs/*' DeleteTopics.java <bootstrap> <timeoutMs> <topic>...
 *
 * Topics that do not exist are skipped. Prints one line; exit 0 when none of them exists any more.
 */
public final class DeleteTopics {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: DeleteTopics <bootstrap> <timeoutMs> <topic>...");
            System.exit(2);
        }
        long deadline = System.currentTimeMillis() + Long.parseLong(args[1]);
        List<String> wanted = List.of(args).subList(2, args.length);
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "custos-infra-delete-topics");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        try (Admin admin = Admin.create(props)) {
            Set<String> existing = admin.listTopics().names().get(10, TimeUnit.SECONDS);
            List<String> doomed = new ArrayList<>();
            for (String t : wanted) if (existing.contains(t)) doomed.add(t);
            if (!doomed.isEmpty()) admin.deleteTopics(doomed).all().get(10, TimeUnit.SECONDS);
            // Deletion is asynchronous on the broker: wait until the topics are gone from metadata,
            // so that a registry started right after finds no journal.
            while (true) {
                Set<String> left = admin.listTopics().names().get(10, TimeUnit.SECONDS);
                List<String> still = new ArrayList<>();
                for (String t : doomed) if (left.contains(t)) still.add(t);
                if (still.isEmpty()) break;
                if (System.currentTimeMillis() > deadline) {
                    System.out.println("still listed after the timeout: " + still);
                    System.exit(1);
                }
                Thread.sleep(200);
            }
            System.out.println(doomed.isEmpty() ? "no such topics" : "deleted " + doomed);
        } catch (Exception e) {
            System.out.println("failed: " + e);
            System.exit(1);
        }
    }
}
