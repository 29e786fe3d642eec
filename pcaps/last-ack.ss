# netns client
State     Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
TIME-WAIT 0      0          192.0.2.1:42406    192.0.2.2:85         
# netns server
State    Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN   0      4096       192.0.2.2:85        0.0.0.0:*           
LAST-ACK 0      1          192.0.2.2:85      192.0.2.1:42406       
