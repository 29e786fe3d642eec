# netns client
State     Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
TIME-WAIT 0      0          192.0.2.1:59864    192.0.2.2:81         
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
LISTEN 0      4096       192.0.2.2:81        0.0.0.0:*          
