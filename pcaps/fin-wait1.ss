# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
FIN-WAIT-1 0      1          192.0.2.1:54020    192.0.2.2:86         
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      4096       192.0.2.2:86        0.0.0.0:*           
ESTAB  0      0          192.0.2.2:86      192.0.2.1:54020       
