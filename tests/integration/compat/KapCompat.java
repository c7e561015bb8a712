// Run as `java KapCompat.java HOLD_SECONDS` (source launcher, no build step).
// Opens two loopback connections to itself, each with both ends in this JVM:
//   "io PORT"  - java.net.ServerSocket + java.net.Socket (blocking classic I/O)
//   "nio PORT" - ServerSocketChannel + SocketChannel (NIO)
//   "off PORT" - like io, but the connecting end calls setKeepAlive(false)
//                after the socket exists and before it connects
// then prints "ready" and holds every socket open for HOLD_SECONDS, so that
// the test looks at them from outside (ss, pidfd_getfd). PORT is the
// listening port: the accepted end has it as local port, the connected end
// as peer port.
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

public class KapCompat {
	public static void main(String[] args) throws Exception {
		long holdMs = (long) (Double.parseDouble(args[0]) * 1000);
		InetAddress lo = InetAddress.getByName("127.0.0.1");

		ServerSocket server = new ServerSocket(0, 16, lo);
		Socket connected = new Socket(lo, server.getLocalPort());
		Socket accepted = server.accept();
		System.out.println("io " + server.getLocalPort());

		ServerSocketChannel nioServer = ServerSocketChannel.open();
		nioServer.bind(new InetSocketAddress(lo, 0));
		int nioPort = ((InetSocketAddress) nioServer.getLocalAddress()).getPort();
		SocketChannel nioConnected = SocketChannel.open(new InetSocketAddress(lo, nioPort));
		SocketChannel nioAccepted = nioServer.accept();
		System.out.println("nio " + nioPort);

		ServerSocket offServer = new ServerSocket(0, 16, lo);
		Socket offConnected = new Socket();
		offConnected.setKeepAlive(false);
		offConnected.connect(new InetSocketAddress(lo, offServer.getLocalPort()));
		Socket offAccepted = offServer.accept();
		System.out.println("off " + offServer.getLocalPort());

		System.out.println("ready");
		System.out.flush();
		Thread.sleep(holdMs);
		for (AutoCloseable c : new AutoCloseable[] {connected, accepted, server, nioConnected,
			     nioAccepted, nioServer, offConnected, offAccepted, offServer})
			c.close();
	}
}
