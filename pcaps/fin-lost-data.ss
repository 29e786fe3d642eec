# time 2026-12-05T23:53:17.291652268Z
# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
FIN-WAIT-1 0      1          192.0.2.1:37306    192.0.2.2:110        
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      4096       192.0.2.2:110       0.0.0.0:*           
ESTAB  0      0          192.0.2.2:110     192.0.2.1:37306       
