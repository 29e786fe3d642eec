# netns client
State Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB 0      0          192.0.2.1:32772    192.0.2.2:89         
# netns server
State    Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN   0      4096       192.0.2.2:89        0.0.0.0:*           
SYN-RECV 0      0          192.0.2.2:89      192.0.2.1:32772       
