# time 2026-12-05T21:50:48.689677632Z
# netns client
State Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB 0      0          192.0.2.1:49444    192.0.2.2:92         
# netns server
State    Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN   0      4096       192.0.2.2:92        0.0.0.0:*           
SYN-RECV 0      0          192.0.2.2:92      192.0.2.1:49444       
