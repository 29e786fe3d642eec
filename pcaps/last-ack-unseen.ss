# time 2026-12-05T21:50:49.99502926Z
# netns client
State     Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
TIME-WAIT 0      0          192.0.2.1:50408    192.0.2.2:93         
# netns server
State    Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN   0      4096       192.0.2.2:93        0.0.0.0:*           
LAST-ACK 0      1          192.0.2.2:93      192.0.2.1:50408       
