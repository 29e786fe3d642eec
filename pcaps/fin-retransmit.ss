# time 2026-12-05T21:50:53.414567674Z
# netns client
State     Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
TIME-WAIT 0      0          192.0.2.1:59288    192.0.2.2:95         
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
LISTEN 0      4096       192.0.2.2:95        0.0.0.0:*          
