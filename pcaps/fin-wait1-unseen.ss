# time 2026-12-05T21:50:51.301445479Z
# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
FIN-WAIT-1 0      1          192.0.2.1:51566    192.0.2.2:94         
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:94        0.0.0.0:*           
CLOSE-WAIT 0      0          192.0.2.2:94      192.0.2.1:51566       
