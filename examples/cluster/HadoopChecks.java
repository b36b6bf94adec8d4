/*
 * HadoopChecks - the name checks a Hadoop cluster makes, with the JDK's own
 * resolver (InetAddress, i.e. getaddrinfo/getnameinfo through glibc NSS):
 *
 *  - "local": this host's own name, as a DataNode or NodeManager finds it
 *    (InetAddress.getLocalHost() resolves gethostname(); its canonical
 *    name is what Kerberos' _HOST and the registration use);
 *  - "name": every address of each NAME on the command line
 *    (InetAddress.getAllByName), and the canonical name of each of those
 *    addresses looked up from the bare address, as the NameNode does when a
 *    DataNode registers (getCanonicalHostName reverse-resolves and then
 *    checks that the name resolves back to the same address; when forward
 *    and reverse disagree it silently returns the address itself).
 *
 * Output: tab-separated lines "local|name <TAB> name <TAB> address <TAB>
 * canonical", "-" for what did not resolve. Exit 0 when every lookup
 * answered (whether the answers are right is for the caller to judge),
 * 1 otherwise.
 */
import java.net.InetAddress;
import java.net.UnknownHostException;

public final class HadoopChecks {
    private HadoopChecks() {
    }

    public static void main(String[] args) {
        int failed = 0;
        try {
            InetAddress local = InetAddress.getLocalHost();
            System.out.println("local\t" + local.getHostName() + "\t" + local.getHostAddress()
                    + "\t" + InetAddress.getByAddress(local.getAddress()).getCanonicalHostName());
        } catch (UnknownHostException e) {
            System.out.println("local\t-\t-\t-");
            failed++;
        }
        for (String name : args) {
            try {
                for (InetAddress a : InetAddress.getAllByName(name)) {
                    InetAddress bare = InetAddress.getByAddress(a.getAddress());
                    System.out.println("name\t" + name + "\t" + a.getHostAddress() + "\t"
                            + bare.getCanonicalHostName());
                }
            } catch (UnknownHostException e) {
                System.out.println("name\t" + name + "\t-\t-");
                failed++;
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
