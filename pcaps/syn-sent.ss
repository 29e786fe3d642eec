# netns client
State    Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
SYN-SENT 0      1          192.0.2.1:47290    192.0.2.2:88         
# netns server
State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
