# netns client
State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
# netns server
State     Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN    0      4096       192.0.2.2:82        0.0.0.0:*           
TIME-WAIT 0      0          192.0.2.2:82      192.0.2.1:35210       
