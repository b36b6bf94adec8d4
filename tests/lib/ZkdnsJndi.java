/*
 * ZkdnsJndi.java - the Java client of test_zkdns_clients.py, run with the
 * JDK's single-file launcher. It asks the way Hadoop's
 * org.apache.hadoop.net.DNS.reverseDns does: a default InitialDirContext
 * and getAttributes("dns://SERVER/NAME", {TYPE}) through the JDK's JNDI
 * DNS provider. Arguments: SERVER (host:port), then TYPE NAME pairs.
 * Prints "TYPE NAME VALUE" per value, "TYPE NAME none" for an empty
 * answer, or "TYPE NAME error CLASS" (NameNotFoundException for
 * NXDOMAIN, ServiceUnavailableException for REFUSED/SERVFAIL).
 */
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.Attributes;
import javax.naming.directory.InitialDirContext;

public class ZkdnsJndi {
    public static void main(String[] args) throws Exception {
        InitialDirContext ctx = new InitialDirContext();
        for (int i = 1; i + 1 < args.length; i += 2) {
            String type = args[i], name = args[i + 1];
            try {
                Attributes attrs = ctx.getAttributes(
                    "dns://" + args[0] + "/" + name, new String[] {type});
                Attribute a = attrs.get(type);
                if (a == null) {
                    System.out.println(type + " " + name + " none");
                    continue;
                }
                List<String> vals = new ArrayList<>();
                NamingEnumeration<?> e = a.getAll();
                while (e.hasMore())
                    vals.add(e.next().toString());
                Collections.sort(vals);
                for (String v : vals)
                    System.out.println(type + " " + name + " " + v);
            } catch (NamingException ex) {
                System.out.println(type + " " + name + " error " +
                                   ex.getClass().getSimpleName());
            }
        }
    }
}
