# time 2026-12-05T23:53:38.627855359Z
# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
FIN-WAIT-2 0      0          192.0.2.1:58334    192.0.2.2:111        
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:111       0.0.0.0:*           
CLOSE-WAIT 0      0          192.0.2.2:111     192.0.2.1:58334       
