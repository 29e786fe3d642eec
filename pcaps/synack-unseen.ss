# time 2026-12-05T21:58:42.152702764Z
# netns client
State    Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
SYN-SENT 0      1          192.0.2.1:39368    192.0.2.2:99         
# netns server
State    Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN   0      4096       192.0.2.2:99        0.0.0.0:*           
SYN-RECV 0      0          192.0.2.2:99      192.0.2.1:39368       
