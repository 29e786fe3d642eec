# netns client
State   Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
CLOSING 0      1          192.0.2.1:46960    192.0.2.2:87         
# netns server
State   Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN  0      4096       192.0.2.2:87        0.0.0.0:*           
CLOSING 0      1          192.0.2.2:87      192.0.2.1:46960       
